"""Windowed aggregations: tumbling/hopping, sliding and session windows (Kafka's semantics).

Each node keeps its aggregates in a window or session store and forwards
`Change(new, old)` keyed by `Windowed(key, window)`. Event time is the node's own observed
stream time (the largest timestamp among the records that reached it, as Kafka keeps per
processor): a record whose window has closed (end + grace passed) is dropped, counted as a
"late record" and logged at debug level, exactly where Kafka Streams drops it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers, Node
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows, Window, Windowed

__all__ = [
    "SessionWindowAggregateNode",
    "SlidingWindowAggregateNode",
    "TimeWindowAggregateNode",
    "reduce_as_aggregator",
]

Initializer = Callable[[], Any]
Aggregator = Callable[[Any, Any, Any], Any]

LATE = "late record"
NO_TIMESTAMP = -1  # Kafka's ConsumerRecord.NO_TIMESTAMP: nothing observed yet


def reduce_as_aggregator(reducer: Callable[[Any, Any], Any]) -> Aggregator:
    """Kafka's reduce is an aggregate whose initial value is null: the first value starts it."""

    def aggregate(key: Any, value: Any, agg: Any) -> Any:
        return value if agg is None else reducer(agg, value)

    return aggregate


def _no_initial() -> Any:
    return None


class _WindowedAggregate(StatefulNode):
    """Shared by the three windowed aggregations.

    Each node keeps its own observed stream time: the largest timestamp of the records that
    reached it (Kafka's `observedStreamTime` per processor). A record that an upstream
    filter removed, or that went to another branch, does not move it, so it cannot make a
    later record of this node late.
    """

    def __init__(
        self, name: str, store_name: str, initializer: Initializer, aggregator: Aggregator
    ) -> None:
        super().__init__(name, store_name)
        self.initializer = initializer
        self.aggregator = aggregator
        self.observed = NO_TIMESTAMP

    def _observe(self, timestamp: int) -> int:
        self.observed = max(self.observed, timestamp)
        return self.observed

    def _init_agg(self) -> Any:
        try:
            return self.initializer()
        except Exception as exc:
            raise self.fail(exc) from exc

    def _apply(self, key: Any, value: Any, agg: Any) -> Any:
        try:
            return self.aggregator(key, value, agg)
        except Exception as exc:
            raise self.fail(exc) from exc


class TimeWindowAggregateNode(_WindowedAggregate):
    """Tumbling and hopping windows (Kafka's KStreamWindowAggregate).

    Only a null key is skipped: a null value reaches the aggregator (count counts it), as in
    Kafka. A window is updated while its end is after `observed - grace`; a new window's
    old value is the initializer's (Kafka forwards it when old values are requested).
    """

    def __init__(
        self,
        name: str,
        store_name: str,
        windows: TimeWindows,
        initializer: Initializer,
        aggregator: Aggregator,
    ) -> None:
        super().__init__(name, store_name, initializer, aggregator)
        self.windows = windows

    def init(self, context: TaskContext) -> None:
        Node.init(self, context)
        self.store = context.get_store(self.store_name)
        # Updates wait in a record cache keyed by (key, window start) when the store caches;
        # the Windowed key and its Change are built when the cache forwards them.
        self.cache = context.windowed_cache_for(self, self.store, self.windows.size_ms)
        self.emit = self.forward

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        store = self.store
        fetch = store.fetch_with_timestamp
        put = store.put
        cache = self.cache
        observed = self._observe(timestamp)
        close_time = observed - self.windows.grace_ms
        size = self.windows.size_ms
        advance = self.windows.advance_ms
        # Every window containing the timestamp, oldest first (TimeWindows.windows_for).
        start = max(0, timestamp - size + advance)
        start -= start % advance
        while start <= timestamp:
            end = start + size
            if end <= timestamp:
                start += advance
                continue
            if end <= close_time:
                self.skip(LATE, key)
                start += advance
                continue
            current = fetch(key, start)
            if current is None or current[0] is None:
                old = self._init_agg()
                new_ts = timestamp
            else:
                old, old_ts = current
                new_ts = old_ts if old_ts > timestamp else timestamp
            new = self._apply(key, value, old)
            put(key, new, start, timestamp=new_ts)
            if cache is not None:
                cache.put_window(key, start, new, old, new_ts, headers)
            else:
                self.forward(Windowed(key, Window(start, end)), Change(new, old), new_ts, headers)
            start += advance


class SlidingWindowAggregateNode(_WindowedAggregate):
    """Sliding windows per KIP-450 (Kafka's KStreamSlidingWindowAggregate).

    Every record owns a left window [t - diff, t] and, if a later record falls within diff,
    a right window [t + 1, t + 1 + diff]; windows are inclusive at both ends. Only windows
    holding at least one record exist, and each is emitted when it changes. The existing
    windows are visited newest first and updated in that order, as Kafka does with a store
    that iterates backwards (RocksDB and in-memory stores both do).
    """

    def __init__(
        self,
        name: str,
        store_name: str,
        windows: SlidingWindows,
        initializer: Initializer,
        aggregator: Aggregator,
    ) -> None:
        super().__init__(name, store_name, initializer, aggregator)
        self.diff = windows.time_difference_ms
        self.grace = windows.grace_ms

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None or value is None:
            self.skip("null key or value", key)
            return
        observed = self._observe(timestamp)
        close_time = observed - self.grace
        if timestamp + self.diff < close_time:
            self.skip(LATE, key)
            return
        if timestamp < self.diff:
            self._process_early(key, value, timestamp, close_time, headers)
        else:
            self._process_reverse(key, value, timestamp, close_time, headers)

    def _process_reverse(
        self, key: Any, value: Any, ts: int, close_time: int, headers: Headers
    ) -> None:
        diff = self.diff
        starts: set[int] = set()
        left_agg: tuple[Any, int] | None = None
        right_agg: tuple[Any, int] | None = None
        left_created = right_created = False
        prev_ts: int | None = None
        found = self.store.fetch_range_with_timestamps(key, max(0, ts - 2 * diff), ts + 1)
        for start, agg, wts in reversed(found):
            starts.add(start)
            end = start + diff
            if start == ts + 1:
                right_created = True
            elif end > ts:
                if right_agg is None:
                    right_agg = (agg, wts)
                self._update(key, value, start, (agg, wts), close_time, ts, headers)
            elif end == ts:
                left_created = True
                self._update(key, value, start, (agg, wts), close_time, ts, headers)
                if wts < ts:
                    prev_ts = wts
                else:
                    return  # a record at ts exists: every window it implies exists too
            else:  # end < ts: the newest window left of this record's
                left_agg = (agg, wts)
                prev_ts = wts
                break
        if prev_ts is not None:
            prev_right = prev_ts + 1
            if prev_right not in starts and prev_right + diff >= ts:
                self._update(key, value, prev_right, None, close_time, ts, headers)
        if not left_created:
            if prev_ts is not None and left_agg is not None and ts - diff <= prev_ts:
                base: tuple[Any, int] | None = (left_agg[0], ts)
            else:
                base = None
            self._update(key, value, ts - diff, base, close_time, ts, headers)
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._create_right(key, ts, right_agg, headers)

    def _process_early(
        self, key: Any, value: Any, ts: int, close_time: int, headers: Headers
    ) -> None:
        """Records before `diff` share one window [0, diff] (no window may start below 0)."""
        starts: set[int] = set()
        combined: tuple[Any, int] | None = None
        right_agg: tuple[Any, int] | None = None
        right_created = False
        prev_ts: int | None = None
        for start, agg, wts in self.store.fetch_range_with_timestamps(key, 0, ts + 1):
            starts.add(start)
            if start == 0:
                combined = (agg, wts)
                if wts < ts:
                    prev_ts = wts
            elif start <= ts:
                right_agg = (agg, wts)
                self._update(key, value, start, (agg, wts), close_time, ts, headers)
            else:
                right_created = True
        if right_agg is None and combined is not None and combined[1] > ts:
            right_agg = combined
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._create_right(key, ts, right_agg, headers)
        if prev_ts is not None and prev_ts + 1 not in starts:
            self._update(key, value, prev_ts + 1, None, close_time, ts, headers)
        self._update(key, value, 0, combined, close_time, ts, headers)

    def _update(
        self,
        key: Any,
        value: Any,
        start: int,
        base: tuple[Any, int] | None,
        close_time: int,
        ts: int,
        headers: Headers,
    ) -> None:
        """Kafka's updateWindowAndForward; `base` None means a new window (initializer)."""
        end = start + self.diff
        if end < close_time:
            self.skip(LATE, key)
            return
        if base is None:
            old, base_ts = self._init_agg(), ts
        else:
            old, base_ts = base
        new_ts = ts if old is None else max(ts, base_ts)
        new = self._apply(key, value, old)
        self.store.put(key, new, start, timestamp=new_ts)
        self.emit(Windowed(key, Window(start, end)), Change(new, old), new_ts, headers)

    def _create_right(
        self, key: Any, ts: int, right_agg: tuple[Any, int], headers: Headers
    ) -> None:
        start = ts + 1
        agg, agg_ts = right_agg
        self.store.put(key, agg, start, timestamp=agg_ts)
        window = Window(start, start + self.diff)
        self.emit(Windowed(key, window), Change(agg, None), agg_ts, headers)


class SessionWindowAggregateNode(_WindowedAggregate):
    """Session windows (Kafka's KStreamSessionWindowAggregate).

    A record at t merges with EVERY session of its key that ends at or after t - gap and
    starts at or before t + gap (both bounds inclusive), in the store's order (by end):
    `agg = merger(key, agg, session_agg)` from the initializer's value, then the
    aggregator adds the record. If the merged session differs from [t, t], each merged
    session is removed and forwarded as a tombstone (timestamp = its end), then the merged
    session is forwarded with its end as timestamp. It is dropped as late when its end is
    before `observed - gap - grace`. Only a null key is skipped: a null value reaches the
    aggregator, as in Kafka.
    """

    def __init__(
        self,
        name: str,
        store_name: str,
        windows: SessionWindows,
        initializer: Initializer,
        aggregator: Aggregator,
        merger: Callable[[Any, Any, Any], Any],
    ) -> None:
        super().__init__(name, store_name, initializer, aggregator)
        self.gap = windows.gap_ms
        self.grace = windows.grace_ms
        self.merger = merger

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        store = self.store
        close_time = self._observe(timestamp) - self.grace - self.gap
        start = end = timestamp
        agg = self._init_agg()
        merged = store.find_sessions(key, timestamp - self.gap, timestamp + self.gap)
        try:
            for window, session_agg in merged:
                agg = self.merger(key, agg, session_agg)
                start = min(start, window.start)
                end = max(end, window.end)
        except Exception as exc:
            raise self.fail(exc) from exc
        if end < close_time:
            self.skip(LATE, key)
            return
        if start != timestamp or end != timestamp:
            for window, session_agg in merged:
                store.remove(key, window.start, window.end)
                self.emit(Windowed(key, window), Change(None, session_agg), window.end, headers)
        agg = self._apply(key, value, agg)
        store.put(key, start, end, agg)
        self.emit(Windowed(key, Window(start, end)), Change(agg, None), end, headers)


def count_initializer() -> int:
    return 0


def count_aggregator(key: Any, value: Any, agg: int) -> int:
    return agg + 1


def count_merger(key: Any, agg1: int, agg2: int) -> int:
    return agg1 + agg2


def reduce_merger(reducer: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    """Kafka's session reduce merges with its reduce aggregator: `aggregator(key, agg2, agg1)`,
    i.e. agg2 when agg1 is None, else `reducer(agg1, agg2)`."""

    def merge(key: Any, agg1: Any, agg2: Any) -> Any:
        return agg2 if agg1 is None else reducer(agg1, agg2)

    return merge


NO_INITIAL = _no_initial
