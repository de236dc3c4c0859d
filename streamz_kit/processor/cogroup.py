"""Nodes of a cogrouped aggregation (KIP-150): one aggregate node per grouped stream, all
writing one store, and a merge node where their updates meet.

The aggregate nodes are the ordinary stream aggregation nodes with their record cache
turned off: the merge node holds the one cache of the shared store instead. With a cache per
aggregate node, two inputs updating the same key between commits would be flushed cache by
cache, and the downstream table could end on the older of the two values; Kafka Streams has
one cache per store for the same reason.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.processor.aggregate import StreamAggregateNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Headers, Node
from streamz_kit.processor.windowed import (
    SessionWindowAggregateNode,
    SlidingWindowAggregateNode,
    TimeWindowAggregateNode,
)

__all__ = [
    "CogroupAggregateNode",
    "CogroupMergeNode",
    "CogroupSessionWindowNode",
    "CogroupSlidingWindowNode",
    "CogroupTimeWindowNode",
]


class CogroupAggregateNode(StreamAggregateNode):
    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward  # the merge node caches


class _OwnStreamTime:
    """Each of Kafka's cogroup window aggregate processors keeps its own observed stream
    time (the largest timestamp it has seen), so a record of a lagging input is late only
    against that input's time, not against the other inputs'."""

    observed = -1

    def _stream_time(self, timestamp: int) -> int:
        self.observed = max(self.observed, timestamp)
        return self.observed


class CogroupTimeWindowNode(_OwnStreamTime, TimeWindowAggregateNode):
    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward


class CogroupSlidingWindowNode(_OwnStreamTime, SlidingWindowAggregateNode):
    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward


class CogroupSessionWindowNode(_OwnStreamTime, SessionWindowAggregateNode):
    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward


class CogroupMergeNode(Node):
    """Kafka's KTablePassThrough after the cogroup aggregates: forwards their changes through
    the shared store's record cache (when the store caches), so one key is one update."""

    def __init__(self, name: str, store_name: str) -> None:
        super().__init__(name)
        self.store_name = store_name

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = context.emit_for(self, context.get_store(self.store_name))

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        self.emit(key, value, timestamp, headers)
