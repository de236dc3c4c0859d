"""Typed key-value stores: the Processor API store and the DSL's timestamped store.

Keys are ordered by their serialized bytes (as in Kafka Streams), so `range` follows the
key serde's byte order. A None value is a tombstone: `put(key, None)` deletes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from streamz_kit.serdes import Serde
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.object_cache import (
    CACHE_KEY_TYPES,
    DEFAULT_CACHE_ENTRIES,
    cache_check,
    key_encoder,
    stamped_encoder,
)
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

    Values that cannot be aliased (ints of a LONG or JSON store: counts, sums) are kept as
    objects in the store's object cache (state/object_cache.py) and serialized once, when
    the commit calls `flush_cache` or the cache evicts them; range reads flush it first.
    """

    kind = "timestamped_kv"

    def __init__(self, buffer: BufferedStore, key_serde: Serde, value_serde: Serde, name: str):
        super().__init__(buffer, key_serde, value_serde, name)
        self._check = cache_check(value_serde)
        self._cache: dict[Any, tuple[Any, int]] = {}
        self._dirty: dict[Any, None] = {}
        self._generation = buffer.generation
        self.cache_limit = DEFAULT_CACHE_ENTRIES
        # (key, (timestamp, value)) -> bytes for the flush, made on its first use
        self._encoders: tuple[Callable[[Any], bytes], Callable[[int, Any], bytes]] | None = None

    def _value(self, data: bytes) -> Any:
        return self.value_serde.deserialize(self._topic, data[8:])

    def _value_bytes(self, value: Any, timestamp: int) -> bytes | None:
        vb = self.value_serde.serialize(self._topic, value)
        return None if vb is None else _TS.pack(timestamp) + vb

    def get(self, key: Any) -> Any:
        found = self.get_with_timestamp(key)
        return None if found is None else found[0]

    def get_with_timestamp(self, key: Any) -> tuple[Any, int] | None:
        check = self._check
        if check is not None and type(key) in CACHE_KEY_TYPES:
            if self._generation != self.buffer.generation:
                self._drop_cache()
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        else:
            check = None
        data = self.buffer.get(self.key_serde.serialize(self._topic, key))  # type: ignore[arg-type]
        if data is None:
            return None
        found = (self.value_serde.deserialize(self._topic, data[8:]), _TS.unpack_from(data)[0])
        if check is not None and check(found[0]) and len(self._cache) < self.cache_limit:
            self._cache[key] = found  # clean: the buffer holds it already
        return found

    def put(self, key: Any, value: Any, timestamp: int = 0) -> None:
        check = self._check
        if check is not None and type(key) in CACHE_KEY_TYPES:
            if self._generation != self.buffer.generation:
                self._drop_cache()
            cache = self._cache
            known = key in cache
            if check(value):
                if not known:
                    self.key_serde.serialize(self._topic, key)  # fails here, at its put
                cache[key] = (value, timestamp)
                self._dirty[key] = None
                if len(cache) > self.cache_limit:
                    self._evict()
                return
            if known:
                del cache[key]
                self._dirty.pop(key, None)
        kb: bytes = self.key_serde.serialize(self._topic, key)  # type: ignore[assignment]
        self.buffer.put(kb, None if value is None else self._value_bytes(value, timestamp))

    def delete(self, key: Any) -> Any:
        """Delete the key; return the value it had."""
        old = self.get(key)
        self.put(key, None)
        return old

    def put_if_absent(self, key: Any, value: Any, timestamp: int = 0) -> Any:
        existing = self.get(key)
        if existing is None:
            self.put(key, value, timestamp)
        return existing

    # -- the object cache --------------------------------------------------------------

    def flush_cache(self) -> None:
        """Serialize every dirty cached value into the buffer; the entries stay, clean."""
        if self._generation != self.buffer.generation:
            self._drop_cache()
            return
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = {}
        encoders = self._encoders
        if encoders is None:
            encoders = self._encoders = (
                key_encoder(self.key_serde, self._topic),
                stamped_encoder(self.value_serde, self._topic),
            )
        kenc, venc = encoders
        entries = map(self._cache.__getitem__, dirty)
        values = [venc(ts, value) for value, ts in entries]
        self.buffer.put_many(zip(map(kenc, dirty), values))

    def _evict(self) -> None:
        """Full: the oldest half (first cached first) goes to the buffer and leaves."""
        cache = self._cache
        dirty = self._dirty
        put = self.buffer.put
        topic = self._topic
        for key in list(cache)[: len(cache) // 2]:
            value, ts = cache.pop(key)
            if key in dirty:
                del dirty[key]
                put(self.key_serde.serialize(topic, key), self._value_bytes(value, ts))  # type: ignore[arg-type]

    def _drop_cache(self) -> None:
        """The buffer changed behind this layer (restore, aborted commit, wipe)."""
        self._generation = self.buffer.generation
        self._cache = {}
        self._dirty = {}

    # -- range reads: the buffer answers them, after the cache is flushed into it ----------

    def range(self, lo: Any, hi: Any, *, reverse: bool = False) -> Iterator[tuple[Any, Any]]:
        self.flush_cache()
        return super().range(lo, hi, reverse=reverse)

    def all(self) -> Iterator[tuple[Any, Any]]:
        self.flush_cache()
        return super().all()

    def reverse_all(self) -> Iterator[tuple[Any, Any]]:
        self.flush_cache()
        return super().reverse_all()

    def approximate_num_entries(self) -> int:
        """An estimate (metrics read it every second): the buffer's count plus the cached
        values not yet in the buffer."""
        return self.buffer.approximate_num_entries() + len(self._dirty)

    def all_with_timestamps(self) -> Iterator[tuple[Any, Any, int]]:
        self.flush_cache()
        kdes = self.key_serde.deserialize
        vdes = self.value_serde.deserialize
        topic = self._topic
        for kb, vb in self.buffer.range(None, None):
            yield kdes(topic, kb), vdes(topic, vb[8:]), _TS.unpack_from(vb)[0]
