"""Emit-on-window-close (KIP-825): a windowed aggregation that forwards final results only.

`FinalResultsNode` wraps the windowed aggregation node the DSL made (time, sliding or
session) and is what the topology wires in its place, under the same name. The inner node
keeps updating its window store exactly as under emit-on-update, but its per-update
forwarding is switched off; after each record, the wrapper works out the window close time
from its own observed stream time and forwards every window that closed since the last
emission, read from the store in time order (window start then key for time and sliding
windows, session end then key for sessions, as Kafka's time-ordered stores yield them),
each as `Change(value, None)` with the window's own timestamp (a session's end).
As in Kafka, windows are emitted after the record has updated the store, so a window that
closes and leaves the store's retention (size + grace behind the latest window written) on
the same record is never emitted: give the store a longer retention (`Materialized(...,
retention=...)`) if a jump in stream time must not lose final results.

The close time up to which results were forwarded is kept in the window store's metadata
segment, so it is changelogged, committed with the windows and restored after a restart:
a restarted task neither repeats nor skips final results (Kafka keeps it in the commit's
processor metadata). Unlike Kafka there is no wall-clock throttle
(`emit.interval.ms.kstreams`): a check costs one comparison until a window closes, so each
record that closes windows emits them at once, which also makes outputs deterministic.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers, Node, _drop
from streamz_kit.state.segments import read_meta, write_meta
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows

__all__ = ["FinalResultsNode"]

NO_TIME = -1


class FinalResultsNode(Node):
    """Forward a windowed aggregation's results once per window, when it closes."""

    def __init__(self, inner: Any, windows: Any) -> None:
        super().__init__(inner.name)
        self.inner = inner
        self.windows = windows
        self.kind = inner.kind
        self.observed = NO_TIME
        self.last_emit = NO_TIME
        self._skips_null_values = isinstance(windows, SlidingWindows)
        self._meta = f"emit-on-close:{inner.name}".encode()
        if isinstance(windows, SessionWindows):
            self._close_lag = windows.grace_ms + windows.gap_ms
        else:
            self._close_lag = windows.grace_ms

    def init(self, context: TaskContext) -> None:
        super().init(context)
        inner = self.inner
        inner.init(context)
        inner.emit = _drop  # updates stay in the store; only final results leave
        inner.forward = _drop
        stored = read_meta(inner.store.buffer, self._meta)
        self.last_emit = NO_TIME if stored is None else stored

    def close(self) -> None:
        self.inner.close()

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        # Time and session aggregations take null values (only sliding windows skip them).
        counted = key is not None and (value is not None or not self._skips_null_values)
        self.inner.process(key, value, timestamp, headers)
        if counted:
            # After the update, as Kafka: a window that closes on the same record that moves
            # it out of the store's retention is not emitted (Kafka loses it the same way).
            self.observed = max(self.observed, timestamp)
            self._maybe_emit(headers)

    def _maybe_emit(self, headers: Headers) -> None:
        close_time = self.observed - self._close_lag
        if self.last_emit != NO_TIME and self.last_emit >= close_time:
            return
        windows = self.windows
        if isinstance(windows, SessionWindows):
            self._emit_sessions(close_time, headers)
        elif isinstance(windows, SlidingWindows):
            self._emit_sliding(close_time, headers)
        else:
            self._emit_time(windows, close_time, headers)

    # -- one method per window kind (Kafka's maybeForwardFinalResult) ----------------------

    def _emit_time(self, windows: TimeWindows, close_time: int, headers: Headers) -> None:
        upper = close_time - windows.size_ms  # last start of a closed window (end exclusive)
        if upper < 0:
            return
        lower = -1 if self.last_emit == NO_TIME else self.last_emit - windows.size_ms
        if self.last_emit != NO_TIME and windows.windows_for(upper) == windows.windows_for(lower):
            return  # close time moved, but not past another window's end
        self._emit_windows(lower + 1, upper, close_time, headers)

    def _emit_sliding(self, close_time: int, headers: Headers) -> None:
        diff = self.windows.time_difference_ms
        upper_exclusive = close_time - diff  # windows are [start, start + diff], inclusive
        if upper_exclusive <= 0:
            return
        lower = 0 if self.last_emit == NO_TIME else max(0, self.last_emit - diff)
        self._emit_windows(lower, upper_exclusive - 1, close_time, headers)

    def _emit_windows(self, lower: int, upper: int, close_time: int, headers: Headers) -> None:
        store = self.inner.store
        kser = store.key_serde.serialize
        rows = []
        for windowed, _ in store.fetch_all(lower, upper):
            start = windowed.window.start
            found = store.fetch_with_timestamp(windowed.key, start)
            if found is None:
                continue
            rows.append((start, kser(store.name, windowed.key) or b"", windowed, found))
        rows.sort(key=lambda row: (row[0], row[1]))
        forward = self.forward
        for _, _, windowed, (agg, ts) in rows:
            forward(windowed, Change(agg, None), ts, headers)
        self._emitted(close_time)

    def _emit_sessions(self, close_time: int, headers: Headers) -> None:
        upper = close_time - 1  # session ends are inclusive
        lower = max(0, self.last_emit)
        if upper < 0 or upper < lower:
            return
        store = self.inner.store
        kser = store.key_serde.serialize
        rows = [
            (w.window.end, kser(store.name, w.key) or b"", w.window.start, w, agg)
            # On RocksDB, Kafka's time-ordered session store drops whole segments only.
            for w, agg in store.fetch_all(lower, include_expired=store.persistent)
            if w.window.end <= upper
        ]
        rows.sort(key=lambda row: (row[0], row[1], row[2]))
        forward = self.forward
        for end, _, _, windowed, agg in rows:
            forward(windowed, Change(agg, None), end, headers)
        self._emitted(close_time)

    def _emitted(self, close_time: int) -> None:
        self.last_emit = close_time
        write_meta(self.inner.store.buffer, self._meta, close_time)
