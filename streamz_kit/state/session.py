"""The session store: a key layout over the bytes store, segmented by session end.

Store key: [8 segment id of end][4 key length][key][8 end][8 start]. Sessions are closed
windows [start, end]. `find_sessions(key, earliest_end, latest_start)` returns sessions
with end >= earliest_end and start <= latest_start (Kafka Streams' findSessions), ordered
by end. Retention drops sessions whose end is at or before observed_stream_time - retention.
"""

from __future__ import annotations

import struct
from typing import Any

from streamz_kit.serdes import Serde
from streamz_kit.state.buffered import BufferedStore
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

__all__ = ["SessionStore"]

_SEG_KLEN = struct.Struct(">QI")
_END_START = struct.Struct(">QQ")
_BIAS = 1 << 63


class SessionStore(TypedStore):
    kind = "session"

    def __init__(
        self,
        buffer: BufferedStore,
        key_serde: Serde,
        value_serde: Serde,
        name: str,
        *,
        retention_ms: int,
        segment_interval_ms: int | None = None,
    ) -> None:
        super().__init__(buffer, key_serde, value_serde, name)
        self.retention_ms = retention_ms
        self.segments = SegmentIndex(
            buffer, segment_interval_ms or default_segment_interval(retention_ms)
        )
        self._floor = MIN_TIME  # sessions ending before this are expired
        self._observed = MIN_TIME  # the latest session end written (Kafka's observedStreamTime)
        self._generation = -1  # sync with the content on first use

    def _kb(self, key: Any) -> bytes:
        return self.key_serde.serialize(self._topic, key)  # type: ignore[return-value]

    def _store_key(self, kb: bytes, start: int, end: int) -> bytes:
        seg = end // self.segments.interval
        return (
            _SEG_KLEN.pack(seg + _BIAS, len(kb)) + kb + _END_START.pack(end + _BIAS, start + _BIAS)
        )

    # -- writes ------------------------------------------------------------------------

    def _sync(self) -> None:
        """After a restore (or a discarded commit) the content changed behind this layer:
        recompute the observed time from the newest segment, as Kafka's store rebuilds it
        from the restored records."""
        self._generation = self.buffer.generation
        ids = self.segments.ids()
        self._observed = self._floor = MIN_TIME
        if not ids:
            return
        seg = ids[-1]
        latest = MIN_TIME
        for k, _ in self.buffer.range(enc_time(seg), enc_time(seg + 1)):
            klen = _SEG_KLEN.unpack_from(k)[1]
            latest = max(latest, dec_time(k, 12 + klen))
        self._advance(latest)

    def _advance(self, end: int) -> None:
        """Stream time as this store observes it: the latest session end written. Sessions
        ending at or before `observed - retention` are expired (Kafka's segmented stores
        read from `observed - retention + 1` on and drop older segments)."""
        if self._generation != self.buffer.generation:
            self._sync()
        if end <= self._observed:
            return
        self._observed = end
        floor = end - self.retention_ms + 1
        if floor > self._floor:
            self._floor = floor
            self.segments.drop_before(floor)

    def put(self, key: Any, start: int, end: int, agg: Any) -> None:
        """Write a session's aggregate (None removes it); expired sessions are ignored."""
        if agg is None:
            self.remove(key, start, end)
            return
        self._advance(end)
        if end < self._floor:
            return
        self.segments.add(end // self.segments.interval)
        self.buffer.put(
            self._store_key(self._kb(key), start, end),
            self.value_serde.serialize(self._topic, agg),
        )

    def remove(self, key: Any, start: int, end: int) -> None:
        self._advance(end)
        self.buffer.put(self._store_key(self._kb(key), start, end), None)

    def expire(self, observed_stream_time: int) -> None:
        """Kept for callers of the older interface: the store now expires sessions from the
        session ends written to it, as Kafka's session store does."""

    # -- reads -------------------------------------------------------------------------

    def fetch_session(self, key: Any, start: int, end: int) -> Any:
        """The aggregate of exactly this session, or None."""
        if self._generation != self.buffer.generation:
            self._sync()
        if end < self._floor:
            return None
        raw = self.buffer.get(self._store_key(self._kb(key), start, end))
        return None if raw is None else self.value_serde.deserialize(self._topic, raw)

    def find_sessions(
        self, key: Any, earliest_session_end: int, latest_session_start: int
    ) -> list[tuple[Window, Any]]:
        """Sessions of `key` with end >= earliest_session_end and start <= latest_session_start."""
        if self._generation != self.buffer.generation:
            self._sync()
        lo_end = max(earliest_session_end, self._floor)
        kb = self._kb(key)
        interval = self.segments.interval
        vdes = self.value_serde.deserialize
        topic = self._topic
        times_at = 12 + len(kb)
        out: list[tuple[Window, Any]] = []
        for seg in self.segments.between(lo_end // interval, MAX_TIME):
            prefix = _SEG_KLEN.pack(seg + _BIAS, len(kb)) + kb
            for k, v in self.buffer.range(
                prefix + _END_START.pack(lo_end + _BIAS, 0),
                prefix + _END_START.pack(MAX_TIME + _BIAS, MAX_TIME + _BIAS),
            ):
                end = dec_time(k, times_at)
                start = dec_time(k, times_at + 8)
                if start <= latest_session_start:
                    out.append((Window(start, end), vdes(topic, v)))
        return out

    def fetch(self, key: Any) -> list[tuple[Window, Any]]:
        """Every live session of `key`, ordered by end."""
        return self.find_sessions(key, MIN_TIME, MAX_TIME)

    def fetch_all(
        self,
        earliest_session_end: int = MIN_TIME,
        latest_session_start: int = MAX_TIME,
        *,
        include_expired: bool = False,
    ) -> list[tuple[Windowed[Any], Any]]:
        """Sessions of every key with end >= earliest_session_end and start <= latest_session_start.

        `include_expired=True` also returns sessions past retention whose segment is still
        kept: Kafka's time-ordered session store (emit-on-window-close) drops whole segments
        only, so its final results include them."""
        if self._generation != self.buffer.generation:
            self._sync()
        lo_end = earliest_session_end if include_expired else max(earliest_session_end, self._floor)
        interval = self.segments.interval
        kdes = self.key_serde.deserialize
        vdes = self.value_serde.deserialize
        topic = self._topic
        out: list[tuple[Windowed[Any], Any]] = []
        for seg in self.segments.between(lo_end // interval, MAX_TIME):
            for k, v in self.buffer.range(enc_time(seg), enc_time(seg + 1)):
                klen = _SEG_KLEN.unpack_from(k)[1]
                end = dec_time(k, 12 + klen)
                start = dec_time(k, 20 + klen)
                if end >= lo_end and start <= latest_session_start:
                    key = kdes(topic, k[12 : 12 + klen])
                    out.append((Windowed(key, Window(start, end)), vdes(topic, v)))
        return out

    def all(self) -> list[tuple[Windowed[Any], Any]]:
        return self.fetch_all()

    def approximate_num_entries(self) -> int:
        return self.buffer.approximate_num_entries()
