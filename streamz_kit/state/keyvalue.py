"""Typed key-value stores: the Processor API store and the DSL's timestamped store.

Keys are ordered by their serialized bytes (as in Kafka Streams), so `range` follows the
key serde's byte order. A None value is a tombstone: `put(key, None)` deletes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

from streamz_kit.state.typed import TypedStore

__all__ = ["KeyValueStore", "TimestampedKeyValueStore"]

_TS = struct.Struct(">q")


class KeyValueStore(TypedStore):
    """Ordered key-value store over a `BufferedStore`."""

    kind = "kv"

    def _value_bytes(self, value: Any, timestamp: int) -> bytes | None:
        return self.value_serde.serialize(self._topic, value)

    def _value(self, data: bytes) -> Any:
        return self.value_serde.deserialize(self._topic, data)

    def get(self, key: Any) -> Any:
        data = self.buffer.get(self.key_serde.serialize(self._topic, key))  # type: ignore[arg-type]
        return None if data is None else self._value(data)

    def put(self, key: Any, value: Any) -> None:
        kb: bytes = self.key_serde.serialize(self._topic, key)  # type: ignore[assignment]
        self.buffer.put(kb, None if value is None else self._value_bytes(value, 0))

    def put_all(self, entries: Iterable[tuple[Any, Any]]) -> None:
        for key, value in entries:
            self.put(key, value)

    def put_if_absent(self, key: Any, value: Any) -> Any:
        """Write only if the key is missing; return the value already there, else None."""
        existing = self.get(key)
        if existing is None:
            self.put(key, value)
        return existing

    def delete(self, key: Any) -> Any:
        """Delete the key; return the value it had."""
        kb: bytes = self.key_serde.serialize(self._topic, key)  # type: ignore[assignment]
        old = self.buffer.get(kb)
        self.buffer.put(kb, None)
        return None if old is None else self._value(old)

    def range(self, lo: Any, hi: Any, *, reverse: bool = False) -> Iterator[tuple[Any, Any]]:
        """Entries with lo <= key <= hi (None = open bound), in serialized-key order."""
        ser = self.key_serde.serialize
        lo_b = None if lo is None else ser(self._topic, lo)
        hi_b = None if hi is None else ser(self._topic, hi)
        return self._decode(self.buffer.range(lo_b, hi_b, reverse=reverse))

    def reverse_range(self, lo: Any, hi: Any) -> Iterator[tuple[Any, Any]]:
        return self.range(lo, hi, reverse=True)

    def all(self) -> Iterator[tuple[Any, Any]]:
        return self._decode(self.buffer.range(None, None))

    def reverse_all(self) -> Iterator[tuple[Any, Any]]:
        return self._decode(self.buffer.range(None, None, reverse=True))

    def _decode(self, items: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[Any, Any]]:
        kdes = self.key_serde.deserialize
        topic = self._topic
        value = self._value
        for kb, vb in items:
            yield kdes(topic, kb), value(vb)

    def approximate_num_entries(self) -> int:
        return self.buffer.approximate_num_entries()


class TimestampedKeyValueStore(KeyValueStore):
    """Values stored as 8-byte big-endian timestamp + serialized value (Kafka's format).

    `get`, `range` and `all` return plain values; `get_with_timestamp` adds the timestamp.
    """

    kind = "timestamped_kv"

    def _value(self, data: bytes) -> Any:
        return self.value_serde.deserialize(self._topic, data[8:])

    def _value_bytes(self, value: Any, timestamp: int) -> bytes | None:
        vb = self.value_serde.serialize(self._topic, value)
        return None if vb is None else _TS.pack(timestamp) + vb

    def get_with_timestamp(self, key: Any) -> tuple[Any, int] | None:
        data = self.buffer.get(self.key_serde.serialize(self._topic, key))  # type: ignore[arg-type]
        if data is None:
            return None
        return self.value_serde.deserialize(self._topic, data[8:]), _TS.unpack_from(data)[0]

    def put(self, key: Any, value: Any, timestamp: int = 0) -> None:
        kb: bytes = self.key_serde.serialize(self._topic, key)  # type: ignore[assignment]
        self.buffer.put(kb, None if value is None else self._value_bytes(value, timestamp))

    def put_if_absent(self, key: Any, value: Any, timestamp: int = 0) -> Any:
        existing = self.get(key)
        if existing is None:
            self.put(key, value, timestamp)
        return existing

    def all_with_timestamps(self) -> Iterator[tuple[Any, Any, int]]:
        kdes = self.key_serde.deserialize
        vdes = self.value_serde.deserialize
        topic = self._topic
        for kb, vb in self.buffer.range(None, None):
            yield kdes(topic, kb), vdes(topic, vb[8:]), _TS.unpack_from(vb)[0]
