"""`TaskContext`: everything a node may use of the task running it, and nothing more.

Nodes live in `processor/` and must not know the runtime: the task that runs them (in
`runtime/task.py`) builds one `TaskContext` and hands it to every node's `init(context)`
at wiring. A node binds what it needs there, once (its store, its `emit`, the context
itself), so the per-record path pays no lookup it did not pay before:

- stores: `get_store(name)` (Processor API: `get_state_store`);
- output: sinks append `ProducerRecord`s to `collector`, which the commit drains;
- table updates: `emit_for(node, store)` returns the node's `forward` or a record cache;
- the record being processed: `current` (topic, partition, offset, headers, timestamp);
- time: `stream_time` (the largest timestamp seen), `wall_clock_ms()`;
- punctuation: `schedule(interval_ms, kind, callback, owner)`;
- identity and topics: `task_id`, `application_id`, `partition`, `resolve_topic`,
  `partition_count`, `max_record_bytes`; and `record_skipped` for the skip metrics.

The task's hot loop writes `current` and `stream_time` on this object directly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from streamz_kit.errors import TopologyError
from streamz_kit.processor.api import PunctuationType
from streamz_kit.processor.cache import EmitCache, WindowedEmitCache
from streamz_kit.processor.punctuation import Punctuation, PunctuationQueue
from streamz_kit.processor.types import Forward, Headers

if TYPE_CHECKING:
    from streamz_kit.transport.port import ConsumedRecord, ProducerRecord

__all__ = ["RecordContext", "TaskContext"]


class RecordContext:
    """Where the record being processed came from (read by the Processor API's context).

    Holds the record itself rather than copies of its fields: the hot loop stores one
    reference per record, and only a processor that asks pays for the attribute lookups.
    """

    __slots__ = ("record", "timestamp")

    def __init__(self) -> None:
        self.record: ConsumedRecord | None = None
        self.timestamp = 0

    @property
    def topic(self) -> str | None:
        return None if self.record is None else self.record.topic

    @property
    def partition(self) -> int | None:
        return None if self.record is None else self.record.partition

    @property
    def offset(self) -> int | None:
        return None if self.record is None else self.record.offset

    @property
    def headers(self) -> Headers:
        return () if self.record is None else tuple(self.record.headers)


class _Forwarding(Protocol):
    forward: Forward


def _system_clock_ms() -> int:
    return int(time.time() * 1000)


class TaskContext:
    """One task's context, shared by all of its nodes (see the module docstring)."""

    __slots__ = (
        "application_id",
        "cache_max_entries",
        "caches",
        "collector",
        "current",
        "max_record_bytes",
        "partition",
        "partition_count",
        "punctuations",
        "skipped",
        "stores",
        "stream_time",
        "task_id",
        "wall_clock_ms",
    )

    def __init__(
        self,
        *,
        task_id: str,
        application_id: str,
        partition: int,
        stores: dict[str, Any],
        partition_count: Callable[[str], int],
        wall_clock_ms: Callable[[], int] | None = None,
        cache_max_entries: int = 0,
        max_record_bytes: int = 1024 * 1024,
    ) -> None:
        self.task_id = task_id
        self.application_id = application_id
        self.partition = partition
        self.stores = stores
        self.partition_count = partition_count
        self.wall_clock_ms: Callable[[], int] = wall_clock_ms or _system_clock_ms
        self.cache_max_entries = cache_max_entries  # 0: no record cache
        self.max_record_bytes = max_record_bytes
        self.collector: list[ProducerRecord] = []
        self.current = RecordContext()
        self.stream_time = -1
        self.punctuations = PunctuationQueue()
        self.skipped: Counter[str] = Counter()
        self.caches: list[EmitCache | WindowedEmitCache] = []

    def resolve_topic(self, topic: str, internal: bool) -> str:
        """Internal topics carry the application id as a prefix, as in Kafka Streams."""
        return f"{self.application_id}-{topic}" if internal else topic

    def get_store(self, name: str) -> Any:
        try:
            return self.stores[name]
        except KeyError:
            raise TopologyError(
                f"Task {self.task_id} has no state store {name!r}; connect it to the processor "
                "that uses it."
            ) from None

    def emit_for(self, node: _Forwarding, store: Any) -> Forward:
        """How a table node sends updates: straight on, or through a record cache."""
        if self.cache_max_entries <= 0 or store is None or not store.caching_enabled:
            return node.forward
        cache = EmitCache(node.forward, self.cache_max_entries)
        self.caches.append(cache)
        return cache.put

    def windowed_cache_for(
        self, node: _Forwarding, store: Any, size_ms: int
    ) -> WindowedEmitCache | None:
        """A time-window aggregation's record cache (None: forward each update at once)."""
        if self.cache_max_entries <= 0 or store is None or not store.caching_enabled:
            return None
        cache = WindowedEmitCache(node.forward, self.cache_max_entries, size_ms)
        self.caches.append(cache)
        return cache

    def flush_caches(self) -> None:
        """Forward what the record caches hold, upstream nodes first (commit step 0)."""
        for cache in self.caches:
            cache.flush()

    def record_skipped(self, node: str, reason: str) -> None:
        self.skipped[reason] += 1

    def schedule(
        self,
        interval_ms: int,
        kind: PunctuationType,
        callback: Callable[[int], None],
        owner: object,
    ) -> Punctuation:
        return self.punctuations.schedule(interval_ms, kind, callback, owner, self.wall_clock_ms())
