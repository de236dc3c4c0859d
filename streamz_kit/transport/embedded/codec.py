"""Record headers as one blob, in a fixed little format of our own.

Why not pickle or marshal: the log outlives the Python that wrote it, so the bytes on disk
must not depend on an interpreter version. Most records carry no headers; they are stored
as NULL and cost nothing to decode.
"""

from __future__ import annotations

import struct

from streamz_kit.errors import BrokerError
from streamz_kit.transport.port import Headers

_U32 = struct.Struct("<I")
_NONE = 0xFFFFFFFF


def encode_headers(headers: Headers) -> bytes | None:
    """Length-prefixed (name, value) pairs; a None value is kept apart from b''."""
    if not headers:
        return None
    parts: list[bytes] = [_U32.pack(len(headers))]
    for name, value in headers:
        raw = name.encode("utf-8")
        parts.append(_U32.pack(len(raw)))
        parts.append(raw)
        if value is None:
            parts.append(_U32.pack(_NONE))
        else:
            parts.append(_U32.pack(len(value)))
            parts.append(bytes(value))
    return b"".join(parts)


def decode_headers(blob: bytes | None) -> Headers:
    if not blob:
        return ()
    try:
        (count,) = _U32.unpack_from(blob, 0)
        pos = 4
        out: list[tuple[str, bytes]] = []
        for _ in range(count):
            (n,) = _U32.unpack_from(blob, pos)
            pos += 4
            name = blob[pos : pos + n].decode("utf-8")
            pos += n
            (n,) = _U32.unpack_from(blob, pos)
            pos += 4
            if n == _NONE:
                out.append((name, None))  # type: ignore[arg-type]
            else:
                out.append((name, blob[pos : pos + n]))
                pos += n
        return tuple(out)
    except (struct.error, UnicodeDecodeError) as exc:
        raise BrokerError(
            f"A record's headers in the embedded log are unreadable ({exc}); the log file "
            "may be damaged, restore it from a backup or delete the broker directory."
        ) from exc
