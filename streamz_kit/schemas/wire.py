"""Confluent's wire format: magic byte 0, a 4-byte big-endian schema id, then the payload.

Protobuf payloads start with the message-index list: the path of the message type inside its
.proto file, as zigzag varints, count first; the common case `[0]` (the file's first message)
is the single byte 0. These helpers are shared by the three registry serdes.
"""

from __future__ import annotations

import struct

from streamz_kit.schemas.errors import SchemaSerdeError, describe_bytes

MAGIC = 0
_HEADER = struct.Struct(">bI")
HEADER_SIZE = _HEADER.size
pack_header = _HEADER.pack


def header(schema_id: int) -> bytes:
    return _HEADER.pack(MAGIC, schema_id)


def split(topic: str, data: bytes) -> int:
    """The schema id of a framed record; a clear error when the frame is not Confluent's."""
    if len(data) < HEADER_SIZE or data[0] != MAGIC:
        raise SchemaSerdeError(
            f"The bytes on topic {topic!r} do not start with the schema registry's magic byte 0 "
            f"and a 4-byte schema id: {describe_bytes(data)}. They were not written by a "
            "registry serializer; read the topic with the serde its producer used."
        )
    return int.from_bytes(data[1:5], "big")


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_indexes(indexes: list[int]) -> bytes:
    """Protobuf message indexes as Confluent writes them."""
    if indexes == [0]:
        return b"\x00"
    return _varint(_zigzag(len(indexes))) + b"".join(_varint(_zigzag(i)) for i in indexes)


def decode_indexes(data: bytes | memoryview, pos: int) -> tuple[list[int], int]:
    """(indexes, position after them); `[0]` for the single byte 0."""

    def read(p: int) -> tuple[int, int]:
        shift = result = 0
        while True:
            if p >= len(data) or shift > 63:
                raise SchemaSerdeError(
                    "The Protobuf message-index list after the schema id is truncated or "
                    "malformed; the record was not written by a Confluent Protobuf serializer."
                )
            b = data[p]
            p += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return (result >> 1) ^ -(result & 1), p

    count, pos = read(pos)
    if count == 0:
        return [0], pos
    indexes = []
    for _ in range(count):
        i, pos = read(pos)
        indexes.append(i)
    return indexes, pos
