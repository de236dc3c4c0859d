"""Versioned tables (KIP-914): their source node, and the stale-update marker.

A table materialized in a versioned store keeps every version of a key. An update older
than the key's latest version (out of order) goes into the history and is still forwarded,
but as a `StaleChange`, Kafka's `Change` with `isLatest = false`: a table-table join drops
it (the latest value did not change), while `to_stream()`, filters and value mappers pass it
on. An update older than the store's history retention is refused by the store and not
forwarded at all.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers, Node
from streamz_kit.state.versioned import IS_LATEST, NOT_PUT

__all__ = ["StaleChange", "VersionedTableSourceNode", "same_kind"]


class StaleChange(Change):
    """A change of a versioned table that is not its key's latest version."""

    __slots__ = ()


def same_kind(change: Change, new: Any, old: Any) -> Change:
    """A change like `change` (stale or not) with other values: what a table operation
    that transforms values forwards, so staleness travels downstream as in Kafka."""
    return StaleChange(new, old) if type(change) is StaleChange else Change(new, old)


class VersionedTableSourceNode(Node):
    """builder.table() / to_table() with Materialized(store="versioned")."""

    def __init__(self, name: str, store_name: str) -> None:
        super().__init__(name)
        self.store_name = store_name
        self.store: Any = None

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.store = context.get_store(self.store_name)

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.context.record_skipped(self.name, "null key")
            return
        store = self.store
        latest = store.get_with_timestamp(key)
        old = None if latest is None else latest[0]
        code = store.put(key, value, timestamp)
        if code == NOT_PUT:
            self.context.record_skipped(self.name, "older than history retention")
            return
        change = Change(value, old) if code == IS_LATEST else StaleChange(value, old)
        self.forward(key, change, timestamp, headers)
