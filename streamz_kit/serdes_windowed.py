"""Serdes for `Windowed` keys, in Kafka Streams' byte layouts.

Time windows: inner key bytes + 8-byte window start (Kafka's TimeWindowedSerde); the end
is start + window size, so the deserializer needs the size. Session windows: inner key
bytes + 8-byte end + 8-byte start (Kafka's SessionWindowedSerde). Both map None to None.
"""

from __future__ import annotations

import struct
from typing import Any

from streamz_kit.errors import SerializationError
from streamz_kit.serdes import Serde, describe_bytes
from streamz_kit.windows import Window, Windowed

__all__ = ["SessionWindowedSerde", "TimeWindowedSerde", "session_windowed", "time_windowed"]

_LONG = struct.Struct(">q")
_TWO_LONGS = struct.Struct(">qq")


def _inner_or_default(inner: Serde | None) -> Serde:
    if inner is not None:
        return inner
    from streamz_kit.serdes import STRING

    return STRING


def _pack(layout: struct.Struct, topic: str, *bounds: int) -> bytes:
    try:
        return layout.pack(*bounds)
    except struct.error as exc:
        raise SerializationError(
            f"Window bounds {bounds} for topic {topic!r} do not fit in 64-bit milliseconds "
            f"({exc}); check the timestamps the windows come from."
        ) from None


class TimeWindowedSerde:
    """`Windowed` keys of tumbling, hopping and sliding windows."""

    def __init__(self, inner: Serde | None, window_size_ms: int) -> None:
        self.inner = _inner_or_default(inner)
        self.window_size_ms = window_size_ms

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if not isinstance(obj, Windowed):
            raise SerializationError(
                f"A windowed key serde got {type(obj).__name__} {obj!r:.60} for topic {topic!r}; "
                "it serializes Windowed keys only. Map the key first (e.g. to window.start)."
            )
        kb = self.inner.serialize(topic, obj.key) or b""
        return kb + _pack(_LONG, topic, obj.window.start)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < 8:
            raise SerializationError(
                f"Bytes on topic {topic!r} are too short for a time-windowed key: "
                f"{describe_bytes(data)}. Read the topic with the inner key serde instead."
            )
        (start,) = _LONG.unpack_from(data, len(data) - 8)
        key = self.inner.deserialize(topic, data[:-8])
        return Windowed(key, Window(start, start + self.window_size_ms))


class SessionWindowedSerde:
    """`Windowed` keys of session windows (both bounds inclusive)."""

    def __init__(self, inner: Serde | None) -> None:
        self.inner = _inner_or_default(inner)

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if not isinstance(obj, Windowed):
            raise SerializationError(
                f"A session-windowed key serde got {type(obj).__name__} {obj!r:.60} for topic "
                f"{topic!r}; it serializes Windowed keys only."
            )
        kb = self.inner.serialize(topic, obj.key) or b""
        return kb + _pack(_TWO_LONGS, topic, obj.window.end, obj.window.start)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < 16:
            raise SerializationError(
                f"Bytes on topic {topic!r} are too short for a session-windowed key: "
                f"{describe_bytes(data)}. Read the topic with the inner key serde instead."
            )
        end, start = _TWO_LONGS.unpack_from(data, len(data) - 16)
        return Windowed(self.inner.deserialize(topic, data[:-16]), Window(start, end))


def time_windowed(inner: Serde | None, window_size_ms: int) -> TimeWindowedSerde:
    """The key serde of a time-windowed KTable (to read its output topic in tests)."""
    return TimeWindowedSerde(inner, window_size_ms)


def session_windowed(inner: Serde | None) -> SessionWindowedSerde:
    """The key serde of a session-windowed KTable."""
    return SessionWindowedSerde(inner)
