"""A task: one sub-topology's nodes processing one partition of its source topics.

The same Task runs under the App (records from a broker) and the TopologyTestDriver (records
piped one at a time); only what feeds it and what commits its output differ.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from streamz_kit.errors import (
    DeserializationError,
    ProductionError,
    StreamsProcessingError,
    StreamzError,
    TopologyError,
    UserCodeError,
)
from streamz_kit.handlers import FAIL, DeadLetter, ErrorContext, ErrorHandlers, Handler, ask
from streamz_kit.processor.api import PunctuationType
from streamz_kit.processor.io import SourceNode
from streamz_kit.processor.node import EmitCache, Node
from streamz_kit.processor.punctuation import Punctuation, PunctuationQueue
from streamz_kit.topology.compiler import SubTopology
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord

log = logging.getLogger("streamz_kit.task")


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
    def headers(self) -> tuple[tuple[str, bytes], ...]:
        return () if self.record is None else tuple(self.record.headers)


def task_id_of(subtopology_id: int, partition: int) -> str:
    return f"{subtopology_id}_{partition}"


class Task:
    def __init__(
        self,
        *,
        topology: Topology,
        subtopology: SubTopology,
        partition: int,
        application_id: str,
        stores: dict[str, Any],
        partition_count: Callable[[str], int],
        wall_clock_ms: Callable[[], int] | None = None,
        cache_max_entries: int = 0,
        handlers: ErrorHandlers | None = None,
        max_record_bytes: int = 1024 * 1024,
    ) -> None:
        self.topology = topology
        self.subtopology = subtopology
        self.partition = partition
        self.task_id = task_id_of(subtopology.id, partition)
        self.application_id = application_id
        self.stores = stores
        self.partition_count = partition_count
        self.wall_clock_ms = wall_clock_ms or (lambda: int(time.time() * 1000))
        self.collector: list[ProducerRecord] = []
        self.current = RecordContext()
        self.stream_time = -1
        self.punctuations = PunctuationQueue()
        self.skipped: Counter[str] = Counter()
        self.processed = 0
        self.dead_lettered = 0
        self.consumed_offsets: dict[tuple[str, int], int] = {}
        self.handlers = handlers or ErrorHandlers()
        self.max_record_bytes = max_record_bytes
        self.cache_max_entries = cache_max_entries  # 0: no record cache (the test driver)
        self.caches: list[EmitCache] = []
        self.internal_topics = set(topology.repartition_topics)
        self.nodes: dict[str, Node] = topology.instantiate(subtopology.nodes)
        self.sources: dict[str, SourceNode] = {}
        for node in self.nodes.values():
            if isinstance(node, SourceNode):
                for topic in node.topics:
                    self.sources[self.resolve_topic(topic, topic in self.internal_topics)] = node
        for node in self.nodes.values():
            node.init(self)

    # -- helpers the nodes call -----------------------------------------------------------
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

    def emit_for(self, node: Node, store: Any) -> Any:
        """How a table node sends updates: straight on, or through a record cache."""
        if self.cache_max_entries <= 0 or store is None or not store.caching_enabled:
            return node.forward
        cache = EmitCache(node.forward, self.cache_max_entries)
        self.caches.append(cache)
        return cache.put

    def flush_caches(self) -> None:
        """Forward what the record caches hold, upstream nodes first (commit step 0)."""
        for cache in self.caches:
            cache.flush()

    def record_skipped(self, node: str, reason: str) -> None:
        self.skipped[reason] += 1

    def schedule(
        self, interval_ms: int, kind: PunctuationType, callback: Callable[[int], None], owner: Any
    ) -> Punctuation:
        return self.punctuations.schedule(interval_ms, kind, callback, owner, self.wall_clock_ms())

    # -- processing ------------------------------------------------------------------------
    def process(self, record: ConsumedRecord) -> None:
        """Run one record from its source to every sink, then any stream-time punctuation."""
        source = self.sources[record.topic]
        self.current.record = record
        mark = len(self.collector)
        try:
            key, value = source.deserialize(record)
            self._process_object(source, record, key, value)
        except StreamzError as exc:
            self._handle_error(record, exc, mark)
        finally:
            self.consumed_offsets[(record.topic, record.partition)] = record.offset + 1

    def _process_object(self, source: SourceNode, record: ConsumedRecord, key: Any,
                        value: Any) -> None:
        timestamp = source.extract_timestamp(key, value, record.timestamp)
        if timestamp < 0:
            self._skip_negative_timestamp(record, timestamp)
            return
        self.current.timestamp = timestamp
        if timestamp > self.stream_time:  # cheaper than max() per record
            self.stream_time = timestamp
        source.process(key, value, timestamp, record.headers)
        self.processed += 1
        if self.punctuations.stream_time:
            self.punctuations.fire_stream_time(self.stream_time)

    def process_batch(self, records: list[ConsumedRecord]) -> None:
        """Records of ONE topic-partition, in offset order: the worker's hot loop.

        Everything that is the same for the whole list (source node, serde functions, the
        context's record slot, consumed offset, counters) is looked up once per batch, and
        each record costs its deserialization, its chain of node calls and little else.
        A record whose handler skips it does not stop the batch: the loop resumes after it.
        """
        if not records:
            return
        first = records[0]
        source = self.sources[first.topic]
        fast = source.fast_loads(first.topic)
        if fast is None or source.timestamp_extractor is not None:
            for record in records:
                self.process(record)
            return
        key_loads, value_loads = fast
        current = self.current
        collector = self.collector
        punctuations = self.punctuations
        forward = source.forward
        done = 0
        start = 0
        index = 0
        n = len(records)
        try:
            while start < n:
                mark = len(collector)
                try:
                    for index in range(start, n):
                        record = records[index]
                        mark = len(collector)
                        current.record = record
                        kb = record.key
                        vb = record.value
                        try:
                            key = None if kb is None else key_loads(kb)
                            value = None if vb is None else value_loads(vb)
                        except Exception:
                            key, value = source.deserialize(record)  # raises the named error
                        timestamp = record.timestamp
                        if timestamp < 0:
                            self._skip_negative_timestamp(record, timestamp)
                            continue
                        current.timestamp = timestamp
                        if timestamp > self.stream_time:
                            self.stream_time = timestamp
                        forward(key, value, timestamp, record.headers)
                        done += 1
                        if punctuations.stream_time:
                            punctuations.fire_stream_time(self.stream_time)
                    start = n
                except StreamzError as exc:
                    self._handle_error(records[index], exc, mark)
                    start = index + 1
        finally:
            self.processed += done
            self.consumed_offsets[(first.topic, first.partition)] = records[index].offset + 1

    def _handle_error(self, record: ConsumedRecord, exc: StreamzError, mark: int) -> None:
        if isinstance(exc, DeserializationError):
            cause = exc.__cause__ or exc
            self._handle("deserialization", self.handlers.deserialization, record, exc, cause, mark)
        elif isinstance(exc, ProductionError):
            error = self._processing_error(exc, record)
            self._handle("production", self.handlers.production, record, error, exc.cause, mark)
        elif isinstance(exc, UserCodeError):
            error = self._processing_error(exc, record)
            self._handle("processing", self.handlers.processing, record, error, exc.cause, mark)
        else:
            raise exc

    def _handle(
        self,
        kind: str,
        handler: Handler,
        record: ConsumedRecord,
        error: StreamzError,
        cause: BaseException,
        mark: int,
    ) -> None:
        """Apply the configured handler: re-raise, or skip (and maybe dead-letter) the record."""
        policy = "log_and_continue"
        if callable(handler) and not isinstance(handler, str):
            handler = ask(handler, self._error_context(kind, record, error), cause)
            policy = "the handler function answered continue"
        if handler == FAIL:
            raise error from cause
        del self.collector[mark:]  # drop what this record half-produced
        self.skipped[f"{kind} error"] += 1
        where = f"{record.topic}-{record.partition}@{record.offset}"
        if isinstance(handler, DeadLetter):
            self.dead_lettered += 1
            headers = record.headers + (
                ("streamz.error.topic", record.topic.encode()),
                ("streamz.error.partition", str(record.partition).encode()),
                ("streamz.error.offset", str(record.offset).encode()),
                ("streamz.error.handler", kind.encode()),
                ("streamz.error.exception", f"{type(cause).__name__}: {cause}"[:1000].encode()),
            )
            width = self.partition_count(handler.topic)
            self.collector.append(
                ProducerRecord(handler.topic, default_partition(record.key, width), record.key,
                               record.value, record.timestamp, headers)
            )
            log.warning("Dead-lettered the record at %s to %s (%s error): %s",
                        where, handler.topic, kind, cause)
        else:
            log.warning("Skipped the record at %s (%s error, %s): %s",
                        where, kind, policy, cause)

    def _error_context(self, kind: str, record: ConsumedRecord, error: StreamzError) -> ErrorContext:
        return ErrorContext(
            kind=kind, topic=record.topic, partition=record.partition, offset=record.offset,
            operator=getattr(error, "node", None), key=record.key, value=record.value,
            timestamp=record.timestamp, headers=tuple(record.headers), task_id=self.task_id,
        )

    def _skip_negative_timestamp(self, record: ConsumedRecord, timestamp: int) -> None:
        self.skipped["negative timestamp"] += 1
        log.warning(
            "Skipping the record at %s-%s@%s: its timestamp %s is negative. Set a "
            "timestamp_extractor on builder.stream() that returns a valid event time.",
            record.topic, record.partition, record.offset, timestamp,
        )

    def _processing_error(self, exc: UserCodeError, record: ConsumedRecord | None) -> StreamzError:
        where = (
            f"the record at {record.topic}-{record.partition}@{record.offset}"
            if record is not None
            else "a punctuation"
        )
        return StreamsProcessingError(
            f"Operator {exc.node} raised {type(exc.cause).__name__}: {exc.cause} while "
            f"processing {where} (task {self.task_id}). Fix the function passed to that "
            "operation, or configure a processing error handler to skip or dead-letter "
            "such records.",
            node=exc.node,
            topic=record.topic if record else None,
            partition=record.partition if record else None,
            offset=record.offset if record else None,
        )

    def punctuate_wall_clock(self, now: int | None = None) -> int:
        if not self.punctuations.wall_clock:
            return 0
        try:
            return self.punctuations.fire_wall_clock(self.wall_clock_ms() if now is None else now)
        except UserCodeError as exc:
            raise self._processing_error(exc, None) from exc.cause

    # -- commit support --------------------------------------------------------------------
    def drain_output(self) -> list[ProducerRecord]:
        out = self.collector
        self.collector = []
        return out

    def close(self) -> None:
        for node in self.nodes.values():
            try:
                node.close()
            except Exception:  # a failing close must not hide the real shutdown reason
                log.exception("Closing %s of task %s failed", node.name, self.task_id)
        for store in self.stores.values():
            store.close()
