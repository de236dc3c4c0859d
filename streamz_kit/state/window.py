"""The window store: a key layout over the bytes store, segmented by window start.

Store key: [8 segment id][4 key length][key][8 window start][4 seqnum] (see segments.py
for the time encoding). `fetch(key, t_from, t_to)` is one range scan per segment the
time range touches; retention drops whole segments. Windows older than retention that
still sit in a partly expired segment are hidden from every read, as in Kafka Streams,
so the observable effect of `expire` is exact.

`retain_duplicates=True` (stream-stream joins) gives every put its own increasing
seqnum, so equal keys and timestamps do not overwrite; put(key, None) is then a no-op.
With `timestamped=True` values carry an 8-byte record timestamp, as in the KV store.
"""

from __future__ import annotations

import struct
from typing import Any, overload

from streamz_kit.serdes import Serde
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.object_cache import (
    CACHE_KEY_TYPES,
    DEFAULT_CACHE_ENTRIES,
    cache_check,
    key_encoder,
    stamped_encoder,
    value_encoder,
)
from streamz_kit.state.segments import (
    MAX_TIME,
    MIN_TIME,
    SegmentIndex,
    dec_time,
    default_segment_interval,
    enc_time,
)
from streamz_kit.state.typed import TypedStore
from streamz_kit.windows import Window, Windowed

__all__ = ["WindowStore"]

_SEG_KLEN = struct.Struct(">QI")
_TIME_SEQ = struct.Struct(">QI")
_TS = struct.Struct(">q")
_BIAS = 1 << 63
_SEQ_MASK = 0x7FFFFFFF


class WindowStore(TypedStore):
    kind = "window"

    def __init__(
        self,
        buffer: BufferedStore,
        key_serde: Serde,
        value_serde: Serde,
        name: str,
        *,
        window_size_ms: int,
        retention_ms: int,
        retain_duplicates: bool = False,
        timestamped: bool = False,
        segment_interval_ms: int | None = None,
        time_ordered: bool = False,
    ) -> None:
        super().__init__(buffer, key_serde, value_serde, name)
        # Emit-on-window-close keeps its windows in Kafka's time-ordered store, whose reads
        # start at `observed - retention` (one window more than the plain store keeps).
        self._keep_extra = 0 if time_ordered else 1
        self.window_size_ms = window_size_ms
        self.retention_ms = retention_ms
        self.retain_duplicates = retain_duplicates
        self.timestamped = timestamped
        self.segments = SegmentIndex(
            buffer, segment_interval_ms or default_segment_interval(retention_ms)
        )
        self._floor = MIN_TIME  # windows starting before this are expired
        self._observed = MIN_TIME  # the latest window start written (Kafka's observedStreamTime)
        self._generation = -1  # sync with the content on first use
        self._seq = 0
        # The object cache (state/object_cache.py): (key, window start) -> (value, record
        # timestamp) for values that cannot be aliased, and the keys not yet in the buffer.
        # Off for duplicate-keeping stores; turned off for good by the first range read
        # (sliding windows, joins), whose scans the buffer answers.
        self._check = None if retain_duplicates else cache_check(value_serde)
        self._cache: dict[tuple[Any, int], tuple[Any, int]] = {}
        self._dirty: dict[tuple[Any, int], None] = {}
        self.cache_limit = DEFAULT_CACHE_ENTRIES

    # -- retention -----------------------------------------------------------------------

    def _check_sync(self) -> None:
        if self._generation != self.buffer.generation:
            self._sync()

    def _sync(self) -> None:
        """After a restore (or a discarded commit) the content changed behind this layer:
        recompute the observed time from the newest segment, as Kafka's store rebuilds it
        from the restored records."""
        self._generation = self.buffer.generation
        self._cache = {}
        self._dirty = {}
        self._observed = self._floor = MIN_TIME
        ids = self.segments.ids()
        if not ids:
            return
        seg = ids[-1]
        latest = MIN_TIME
        for k, _ in self.buffer.range(enc_time(seg), enc_time(seg + 1)):
            latest = max(latest, dec_time(k, 12 + _SEG_KLEN.unpack_from(k)[1]))
        self._advance(latest)

    def _advance(self, window_start: int) -> None:
        """Stream time as this store observes it: the latest window start written. Windows
        starting at or before `observed - retention` are expired: Kafka's segmented stores
        read from `observed - retention + 1` on and drop older segments."""
        self._check_sync()
        if window_start <= self._observed:
            return
        self._observed = window_start
        floor = window_start - self.retention_ms + self._keep_extra
        if floor > self._floor:
            self._floor = floor
            segs = self.segments
            ids = segs.ids()
            if ids and (ids[0] + 1) * segs.interval <= floor:
                # Whole segments expire: their cached windows go to the buffer first, so the
                # deletes that follow see (and changelog) them, and leave the cache.
                self.flush_cache()
                self._cache = {}
                segs.drop_before(floor)

    # -- encoding ----------------------------------------------------------------------

    def _prefix(self, seg: int, kb: bytes) -> bytes:
        return _SEG_KLEN.pack(seg + _BIAS, len(kb)) + kb

    def _kb(self, key: Any) -> bytes:
        return self.key_serde.serialize(self._topic, key)  # type: ignore[return-value]

    def _encode_value(self, value: Any, timestamp: int) -> bytes | None:
        vb = self.value_serde.serialize(self._topic, value)
        if vb is None or not self.timestamped:
            return vb
        return _TS.pack(timestamp) + vb

    def _decode_value(self, data: bytes) -> Any:
        if self.timestamped:
            data = data[8:]
        return self.value_serde.deserialize(self._topic, data)

    # -- writes ------------------------------------------------------------------------

    def put(self, key: Any, value: Any, window_start: int, *, timestamp: int | None = None) -> None:
        """Write the window's value (None deletes); windows already expired are ignored."""
        if self.retain_duplicates and value is None:
            return
        if window_start > self._observed or self._generation != self.buffer.generation:
            self._advance(window_start)
        if window_start < self._floor:
            return
        check = self._check
        if check is not None and type(key) in CACHE_KEY_TYPES:
            ck = (key, window_start)
            known = ck in self._cache
            if check(value):
                if not known:
                    self._kb(key)  # a key that cannot be serialized fails here, at its put
                    self.segments.add(window_start // self.segments.interval)
                ts = timestamp if self.timestamped and timestamp is not None else window_start
                self._cache[ck] = (value, ts)
                self._dirty[ck] = None
                if len(self._cache) > self.cache_limit:
                    self._evict()
                return
            if known:
                del self._cache[ck]
                self._dirty.pop(ck, None)
        self._write(key, value, window_start, timestamp)

    def _write(self, key: Any, value: Any, window_start: int, timestamp: int | None) -> None:
        """Write one window's value into the buffer (the serialized path)."""
        if self.retain_duplicates:
            self._seq = seq = (self._seq + 1) & _SEQ_MASK
        else:
            seq = 0
        seg = window_start // self.segments.interval
        self.segments.add(seg)
        kb = self._kb(key)
        store_key = self._prefix(seg, kb) + _TIME_SEQ.pack(window_start + _BIAS, seq)
        self.buffer.put(
            store_key,
            None
            if value is None
            else self._encode_value(value, window_start if timestamp is None else timestamp),
        )

    # -- the object cache --------------------------------------------------------------

    def flush_cache(self) -> None:
        """Hand every dirty cached window to the buffer (before the commit reads it); the
        entries stay cached, clean. After a restore or discard the cache is just dropped.

        This is where the windows are serialized, once per commit: a key's bytes once for
        all of its windows, then `_write`'s layout with the sequence number 0."""
        if self._generation != self.buffer.generation:
            self._sync()
            return
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = {}
        cache = self._cache
        topic = self._topic
        kenc = key_encoder(self.key_serde, topic)
        interval = self.segments.interval
        seg_klen = _SEG_KLEN.pack
        time_seq = _TIME_SEQ.pack
        key_bytes: dict[Any, bytes] = {}
        keys: list[bytes] = []
        for key, start in dirty:
            kb = key_bytes.get(key)
            if kb is None:
                kb = key_bytes[key] = kenc(key)
            keys.append(
                seg_klen(start // interval + _BIAS, len(kb)) + kb + time_seq(start + _BIAS, 0)
            )
        entries = map(cache.__getitem__, dirty)
        if self.timestamped:
            venc = stamped_encoder(self.value_serde, topic)
            values = [venc(ts, value) for value, ts in entries]
        else:
            plain = value_encoder(self.value_serde, topic)
            values = [plain(value) for value, _ in entries]
        self.buffer.put_many(zip(keys, values))

    def _evict(self) -> None:
        """The cache is full: the oldest half (first cached first; for windows, the oldest
        windows) goes to the buffer and leaves the cache."""
        cache = self._cache
        dirty = self._dirty
        write = self._write
        drop = len(cache) // 2
        for ck in list(cache)[:drop]:
            value, ts = cache.pop(ck)
            if ck in dirty:
                del dirty[ck]
                write(ck[0], value, ck[1], ts)

    def _no_cache(self) -> None:
        """A range read: the buffer answers it, so the cache goes there and stays off."""
        if self._check is not None or self._cache:
            self.flush_cache()
            self._check = None
            self._cache = {}

    def expire(self, observed_stream_time: int) -> None:
        """Kept for callers of the older interface: the store now expires windows from the
        window starts written to it, as Kafka's window store does."""

    # -- reads -------------------------------------------------------------------------

    @overload
    def fetch(self, key: Any, t_from: int) -> Any: ...

    @overload
    def fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]: ...

    def fetch(self, key: Any, t_from: int, t_to: int | None = None) -> Any:
        """`fetch(key, start)`: that window's value or None. `fetch(key, t_from, t_to)`:
        (window_start, value) for windows whose START is in [t_from, t_to], oldest first."""
        if t_to is None:
            if self._check is not None:
                found = self.fetch_with_timestamp(key, t_from)
                return None if found is None else found[0]
            raw = self._fetch_raw(key, t_from)
            return None if raw is None else self._decode_value(raw)
        return [(start, self._decode_value(v)) for start, v in self._scan_key(key, t_from, t_to)]

    def fetch_with_timestamp(self, key: Any, window_start: int) -> tuple[Any, int] | None:
        """(value, record timestamp) of one window of a timestamped store."""
        check = self._check
        if check is not None and type(key) in CACHE_KEY_TYPES:
            if self._generation != self.buffer.generation:
                self._sync()
            hit = self._cache.get((key, window_start))
            if hit is not None:
                return None if window_start < self._floor else hit
        else:
            check = None
        raw = self._fetch_raw(key, window_start)
        if raw is None:
            return None
        if not self.timestamped:
            found = (self._decode_value(raw), window_start)
        else:
            found = (self.value_serde.deserialize(self._topic, raw[8:]), _TS.unpack_from(raw)[0])
        if check is not None and check(found[0]) and len(self._cache) < self.cache_limit:
            self._cache[(key, window_start)] = found  # clean: the buffer holds it already
        return found

    def fetch_range_with_timestamps(
        self, key: Any, t_from: int, t_to: int
    ) -> list[tuple[int, Any, int]]:
        """(window_start, value, record timestamp) for starts in [t_from, t_to], oldest first.

        Sliding-window aggregation needs each window's latest record time to decide which
        windows a new record creates (Kafka's KStreamSlidingWindowAggregate)."""
        vdes = self.value_serde.deserialize
        topic = self._topic
        if not self.timestamped:
            return [(s, vdes(topic, raw), s) for s, raw in self._scan_key(key, t_from, t_to)]
        return [
            (s, vdes(topic, raw[8:]), _TS.unpack_from(raw)[0])
            for s, raw in self._scan_key(key, t_from, t_to)
        ]

    def _fetch_raw(self, key: Any, window_start: int) -> bytes | None:
        self._check_sync()
        if window_start < self._floor:
            return None
        if not self.retain_duplicates:
            seg = window_start // self.segments.interval
            store_key = self._prefix(seg, self._kb(key)) + _TIME_SEQ.pack(window_start + _BIAS, 0)
            return self.buffer.get(store_key)
        for _, raw in self._scan_key(key, window_start, window_start):
            return raw
        return None

    def _scan_key(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, bytes]]:
        self._check_sync()
        self._no_cache()
        lo = max(t_from, self._floor)
        if lo > t_to:
            return []
        kb = self._kb(key)
        segs = self.segments
        interval = segs.interval
        out: list[tuple[int, bytes]] = []
        time_at = 12 + len(kb)
        for seg in segs.between(lo // interval, t_to // interval):
            prefix = self._prefix(seg, kb)
            for k, v in self.buffer.range(
                prefix + _TIME_SEQ.pack(lo + _BIAS, 0),
                prefix + _TIME_SEQ.pack(t_to + _BIAS, 0xFFFFFFFF),
            ):
                out.append((dec_time(k, time_at), v))
        return out

    def fetch_all(self, t_from: int, t_to: int) -> list[tuple[Windowed[Any], Any]]:
        """Every window (all keys) whose start is in [t_from, t_to]."""
        self._check_sync()
        self._no_cache()
        lo = max(t_from, self._floor)
        if lo > t_to:
            return []
        interval = self.segments.interval
        out: list[tuple[Windowed[Any], Any]] = []
        kdes = self.key_serde.deserialize
        topic = self._topic
        size = self.window_size_ms
        for seg in self.segments.between(lo // interval, t_to // interval):
            for k, v in self.buffer.range(enc_time(seg), enc_time(seg + 1)):
                klen = _SEG_KLEN.unpack_from(k)[1]
                start = dec_time(k, 12 + klen)
                if lo <= start <= t_to:
                    key = kdes(topic, k[12 : 12 + klen])
                    out.append((Windowed(key, Window(start, start + size)), self._decode_value(v)))
        return out

    def backward_fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]:
        """`fetch(key, t_from, t_to)` newest first (Kafka's backwardFetch)."""
        return self.fetch(key, t_from, t_to)[::-1]

    def backward_fetch_all(self, t_from: int, t_to: int) -> list[tuple[Windowed[Any], Any]]:
        """`fetch_all(t_from, t_to)` in reverse order (Kafka's backwardFetchAll)."""
        return self.fetch_all(t_from, t_to)[::-1]

    def all(self) -> list[tuple[Windowed[Any], Any]]:
        return self.fetch_all(MIN_TIME, MAX_TIME)

    def approximate_num_entries(self) -> int:
        """The buffer's count, plus the windows cached and not yet in the buffer (some of
        which may already be stored: this is an estimate, read by metrics every second)."""
        return self.buffer.approximate_num_entries() + len(self._dirty)
