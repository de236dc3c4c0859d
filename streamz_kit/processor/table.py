"""KTable nodes. Tables forward `Change(new, old)`; a None new value is a tombstone.

`send_old_values` mirrors Kafka Streams: when no downstream operation needs the old value,
a filter forwards a tombstone for a record it rejects; when one does (a table group_by),
a change whose old and new are both None is dropped as needless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers, Node
from streamz_kit.processor.versioned import same_kind


class TableSourceNode(Node):
    """builder.table() and to_table(): materialize the latest value per key."""

    def __init__(self, name: str, store_name: str | None) -> None:
        super().__init__(name)
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: TaskContext) -> None:
        super().init(context)
        if self.store_name is not None:
            self.store = context.get_store(self.store_name)
        self.emit = context.emit_for(self, self.store)

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.context.record_skipped(self.name, "null key")
            return
        store = self.store
        if store is None:
            self.forward(key, Change(value, None), timestamp, headers)
            return
        current = store.get_with_timestamp(key)
        old = None if current is None else current[0]
        if value is None:
            store.delete(key)
        else:
            store.put(key, value, timestamp)
        self.emit(key, Change(value, old), timestamp, headers)


class MaterializingNode(Node):
    """A table operation that may keep its own results in a store (when `materialized=`);
    `send_old_values()` is asked once, at init (a later DSL call may have asked for them)."""

    def __init__(self, name: str, store_name: str | None, send_old_values: Callable[[], bool]):
        super().__init__(name)
        self.store_name = store_name
        self.store: Any = None
        self._send_old_values = send_old_values
        self.send_old_values = False

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.send_old_values = self._send_old_values()
        if self.store_name is not None:
            self.store = context.get_store(self.store_name)

    def store_and_forward(
        self,
        key: Any,
        new: Any,
        old: Any,
        timestamp: int,
        headers: Headers,
        like: Change | None = None,
    ) -> None:
        store = self.store
        if store is not None:
            store.put(key, new, timestamp)  # None deletes (a tombstone version if versioned)
        old = old if self.send_old_values else None
        change = Change(new, old) if like is None else same_kind(like, new, old)
        self.forward(key, change, timestamp, headers)


class TableFilterNode(MaterializingNode):
    def __init__(
        self,
        name: str,
        predicate: Callable[[Any, Any], bool],
        negate: bool,
        store_name: str | None,
        send_old_values: Callable[[], bool],
    ) -> None:
        super().__init__(name, store_name, send_old_values)
        self.predicate = predicate
        self.negate = negate

    def _keep(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        try:
            hit = bool(self.predicate(key, value))
        except Exception as exc:
            raise self.fail(exc) from exc
        return value if hit is not self.negate else None

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        new = self._keep(key, change.new)
        old = self._keep(key, change.old) if self.send_old_values else None
        if self.send_old_values and new is None and old is None:
            return
        self.store_and_forward(key, new, old, timestamp, headers, change)


class TableMapValuesNode(MaterializingNode):
    def __init__(
        self,
        name: str,
        mapper: Callable[..., Any],
        with_key: bool,
        store_name: str | None,
        send_old_values: Callable[[], bool],
    ) -> None:
        super().__init__(name, store_name, send_old_values)
        self.mapper = mapper
        self.with_key = with_key

    def _map(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.mapper(key, value) if self.with_key else self.mapper(value)
        except Exception as exc:
            raise self.fail(exc) from exc

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        new = self._map(key, change.new)
        old = self._map(key, change.old) if self.send_old_values else None
        self.store_and_forward(key, new, old, timestamp, headers, change)


class TableToStreamNode(Node):
    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        self.forward(key, change.new, timestamp, headers)


class TableRepartitionMapNode(Node):
    """KTable.group_by: re-key each change; the old value goes to the old key's aggregate."""

    def __init__(self, name: str, selector: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        super().__init__(name)
        self.selector = selector

    def _select(self, key: Any, value: Any) -> tuple[Any, Any] | None:
        if value is None:
            return None
        try:
            pair = self.selector(key, value)
            new_key, new_value = pair
        except Exception as exc:
            raise self.fail(exc) from exc
        return new_key, new_value

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        new_pair = self._select(key, change.new)
        old_pair = self._select(key, change.old)
        if (
            new_pair is not None
            and old_pair is not None
            and new_pair[0] is not None
            and new_pair[0] == old_pair[0]
        ):
            self.forward(new_pair[0], Change(new_pair[1], old_pair[1]), timestamp, headers)
            return
        if old_pair is not None and old_pair[0] is not None:
            self.forward(old_pair[0], Change(None, old_pair[1]), timestamp, headers)
        if new_pair is not None and new_pair[0] is not None:
            self.forward(new_pair[0], Change(new_pair[1], None), timestamp, headers)


__all__ = [
    "StatefulNode",
    "TableFilterNode",
    "TableMapValuesNode",
    "TableRepartitionMapNode",
    "TableSourceNode",
    "TableToStreamNode",
]
