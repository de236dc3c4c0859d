"""Time segments: how window and session stores find old data without scanning everything.

Every window/session key starts with its 8-byte segment id (time // interval), so one
segment is one contiguous key range: retention drops whole segments with a range scan
each, and a time-bounded fetch visits only the segments its time range touches. Times
are encoded as big-endian unsigned after adding 2**63, so byte order is numeric order
for negative times too.

The set of live segments is cached in memory. It is rebuilt lazily (one seek per
segment) whenever the buffer's `generation` says the content changed behind the typed
layer (restoration, wipe, an aborted transaction).
"""

from __future__ import annotations

import bisect
import struct

from streamz_kit.state.buffered import BufferedStore

__all__ = [
    "MAX_TIME",
    "META_SEGMENT",
    "MIN_TIME",
    "SegmentIndex",
    "dec_time",
    "default_segment_interval",
    "enc_time",
    "read_meta",
    "write_meta",
]

MIN_TIME = -(1 << 63)
MAX_TIME = (1 << 63) - 1
_BIAS = 1 << 63
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")

# The last segment id is reserved for small per-store metadata (e.g. the close time up to
# which emit-on-close results were forwarded): it is changelogged and restored with the
# data, committed atomically with it, and never seen as a segment of windows.
META_SEGMENT = MAX_TIME


def enc_time(t: int) -> bytes:
    return _U64.pack(t + _BIAS)


def dec_time(data: bytes, offset: int = 0) -> int:
    return _U64.unpack_from(data, offset)[0] - _BIAS  # type: ignore[no-any-return]


def default_segment_interval(retention_ms: int) -> int:
    """Kafka Streams' choice: half the retention, at least one minute."""
    return max(retention_ms // 2, 60_000)


class SegmentIndex:
    """The sorted ids of segments that (may) hold data."""

    __slots__ = ("_generation", "_ids", "buffer", "interval")

    def __init__(self, buffer: BufferedStore, interval: int) -> None:
        self.buffer = buffer
        self.interval = interval
        self._ids: list[int] | None = None
        self._generation = -1

    def segment_of(self, t: int) -> int:
        return t // self.interval

    def ids(self) -> list[int]:
        if self._ids is None or self._generation != self.buffer.generation:
            self._ids = self._scan()
            self._generation = self.buffer.generation
        return self._ids

    def _scan(self) -> list[int]:
        found: list[int] = []
        cursor: bytes | None = None
        while True:
            first = next(iter(self.buffer.range(cursor, None)), None)
            if first is None:
                return found
            seg = dec_time(first[0])
            if seg == META_SEGMENT:
                return found
            found.append(seg)
            cursor = enc_time(seg + 1)

    def between(self, lo_seg: int, hi_seg: int) -> list[int]:
        ids = self.ids()
        return ids[bisect.bisect_left(ids, lo_seg) : bisect.bisect_right(ids, hi_seg)]

    def add(self, seg: int) -> None:
        ids = self.ids()
        i = bisect.bisect_left(ids, seg)
        if i == len(ids) or ids[i] != seg:
            ids.insert(i, seg)

    def drop_before(self, floor: int) -> None:
        """Delete (through the buffer, so the changelog learns it) every segment whose
        whole time span lies before `floor`."""
        ids = self.ids()
        interval = self.interval
        buffer = self.buffer
        while ids and (ids[0] + 1) * interval <= floor:
            seg = ids.pop(0)
            buffer.delete_range(enc_time(seg), enc_time(seg + 1))


def read_meta(buffer: BufferedStore, name: bytes) -> int | None:
    """A metadata integer kept in the store's reserved segment (None if never written)."""
    raw = buffer.get(enc_time(META_SEGMENT) + name)
    return None if raw is None else int(_I64.unpack(raw)[0])


def write_meta(buffer: BufferedStore, name: bytes, value: int) -> None:
    """Write a metadata integer through the buffer (so it is changelogged and committed)."""
    buffer.put(enc_time(META_SEGMENT) + name, _I64.pack(value))
