"""Stream aggregations (group_by_key / group_by followed by count, reduce or aggregate).

Each node reads the key's current aggregate and its timestamp from a timestamped store,
applies the user's function, writes the result with the larger of the two timestamps
(Kafka's rule since KIP-258) and forwards `Change(new, old)` to the KTable downstream.
Records with a null key or value are dropped, as Kafka Streams does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers, Node

log = logging.getLogger("streamz_kit.processor")


class StatefulNode(Node):
    def __init__(self, name: str, store_name: str) -> None:
        super().__init__(name)
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.store = context.get_store(self.store_name)
        # Updates go through the record cache when the store caches.
        self.emit = context.emit_for(self, self.store)

    def skip(self, reason: str, key: Any) -> None:
        self.context.record_skipped(self.name, reason)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s skipped a record with key %r: %s", self.name, key, reason)


class StreamAggregateNode(StatefulNode):
    def __init__(
        self,
        name: str,
        store_name: str,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
    ) -> None:
        super().__init__(name, store_name)
        self.initializer = initializer
        self.aggregator = aggregator

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None or value is None:
            self.skip("null key or value", key)
            return
        store = self.store
        current = store.get_with_timestamp(key)
        try:
            if current is None:
                old = None
                agg = self.initializer()
                new_ts = timestamp
            else:
                old, old_ts = current
                agg = old
                new_ts = timestamp if timestamp > old_ts else old_ts
            new = self.aggregator(key, value, agg)
        except Exception as exc:
            raise self.fail(exc) from exc
        store.put(key, new, new_ts)
        self.emit(key, Change(new, old), new_ts, headers)


class StreamReduceNode(StatefulNode):
    def __init__(self, name: str, store_name: str, reducer: Callable[[Any, Any], Any]) -> None:
        super().__init__(name, store_name)
        self.reducer = reducer

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None or value is None:
            self.skip("null key or value", key)
            return
        store = self.store
        current = store.get_with_timestamp(key)
        if current is None:
            old = None
            new = value
            new_ts = timestamp
        else:
            old, old_ts = current
            try:
                new = self.reducer(old, value)
            except Exception as exc:
                raise self.fail(exc) from exc
            new_ts = timestamp if timestamp > old_ts else old_ts
        store.put(key, new, new_ts)
        self.emit(key, Change(new, old), new_ts, headers)


class _TableCombineNode(StatefulNode):
    """KGroupedTable aggregations: subtract the old value, then add the new one (KIP-904
    order), in one update of the key's aggregate. Subclasses say how to combine."""

    def combine(self, key: Any, change: Change, agg: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define combine()")

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        store = self.store
        current = store.get_with_timestamp(key)
        old_agg, ts = (None, timestamp) if current is None else current
        ts = timestamp if timestamp > ts else ts
        try:
            agg = self.combine(key, change, old_agg)
        except Exception as exc:
            raise self.fail(exc) from exc
        if agg is None:
            store.delete(key)
        else:
            store.put(key, agg, ts)
        self.emit(key, Change(agg, old_agg), ts, headers)


class TableAggregateNode(_TableCombineNode):
    """KGroupedTable.aggregate(initializer, adder(key, value, agg), subtractor(key, value, agg))."""

    def __init__(
        self,
        name: str,
        store_name: str,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
    ) -> None:
        super().__init__(name, store_name)
        self.initializer = initializer
        self.adder = adder
        self.subtractor = subtractor

    def combine(self, key: Any, change: Change, agg: Any) -> Any:
        if change.old is not None and agg is not None:
            agg = self.subtractor(key, change.old, agg)
        if change.new is not None:
            agg = self.adder(key, change.new, self.initializer() if agg is None else agg)
        return agg


class TableReduceNode(_TableCombineNode):
    """KGroupedTable.reduce(adder(agg, value), subtractor(agg, value)); the first value starts."""

    def __init__(
        self,
        name: str,
        store_name: str,
        adder: Callable[[Any, Any], Any],
        subtractor: Callable[[Any, Any], Any],
    ) -> None:
        super().__init__(name, store_name)
        self.adder = adder
        self.subtractor = subtractor

    def combine(self, key: Any, change: Change, agg: Any) -> Any:
        if change.old is not None and agg is not None:
            agg = self.subtractor(agg, change.old)
        if change.new is not None:
            agg = change.new if agg is None else self.adder(agg, change.new)
        return agg
