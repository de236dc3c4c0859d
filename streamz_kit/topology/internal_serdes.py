"""Serdes for values that only internal topics carry."""

from __future__ import annotations

import struct
from typing import Any

from streamz_kit.errors import SerializationError
from streamz_kit.processor.node import Change
from streamz_kit.serdes import Serde, describe_bytes

_LEN = struct.Struct(">I")


class ChangeSerde:
    """A table change (new and old value) through a repartition topic:
    [flags][4-byte length of new][new bytes][old bytes]; flag bits say which are present."""

    def __init__(self, inner: Serde) -> None:
        self.inner = inner

    def serialize(self, topic: str, change: Any) -> bytes | None:
        new = None if change.new is None else self.inner.serialize(topic, change.new)
        old = None if change.old is None else self.inner.serialize(topic, change.old)
        flags = (1 if new is not None else 0) | (2 if old is not None else 0)
        new_b = new or b""
        return bytes([flags]) + _LEN.pack(len(new_b)) + new_b + (old or b"")

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None or len(data) < 5:
            raise SerializationError(
                f"Malformed table change on internal topic {topic!r}: {describe_bytes(data)}. "
                "Reset the application (streamz-kit reset) if this topic was written by "
                "another version."
            )
        flags = data[0]
        (n,) = _LEN.unpack_from(data, 1)
        new = self.inner.deserialize(topic, data[5 : 5 + n]) if flags & 1 else None
        old = self.inner.deserialize(topic, data[5 + n :]) if flags & 2 else None
        return Change(new, old)
