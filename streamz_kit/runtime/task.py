"""A task: one sub-topology's nodes processing one partition of its source topics.

The same Task runs under the App (records from a broker) and the TopologyTestDriver (records
piped one at a time); only what feeds it and what commits its output differ.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from streamz_kit.errors import (
    DeserializationError,
    ProductionError,
    StreamsProcessingError,
    StreamzError,
    UserCodeError,
)
from streamz_kit.handlers import FAIL, DeadLetter, ErrorContext, ErrorHandlers, Handler, ask
from streamz_kit.lifecycle import Lifecycle
from streamz_kit.processor.async_ops import AsyncCall, AsyncValuesNode, wait_for_a_call
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.io import SourceNode
from streamz_kit.processor.node import Node
from streamz_kit.runtime.fusion import BatchFn, fused_batch
from streamz_kit.state.manager import StateManager
from streamz_kit.topology.compiler import SubTopology
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord, TopicPartition

log = logging.getLogger("streamz_kit.task")


def task_id_of(subtopology_id: int, partition: int) -> str:
    return f"{subtopology_id}_{partition}"


class TaskState(enum.Enum):
    """A task's lifecycle (Kafka Streams' Task.State):

        CREATED ──> RESTORING ──> RUNNING <──> SUSPENDED
           │            │            │             │
           └────────────┴────────────┴─────────────┴──> CLOSED

    CREATED: nodes instantiated, stores open, nothing read yet. RESTORING: its stores are
    being brought up to their changelogs. RUNNING: nodes initialized, processing. SUSPENDED:
    its partitions were revoked; stores stay open in case the next assignment gives it back
    (eager rebalancing). CLOSED: nodes and stores closed; a task is never reopened.
    """

    CREATED = "CREATED"
    RESTORING = "RESTORING"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"


_CLOSED = TaskState.CLOSED
_TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.CREATED: frozenset({TaskState.RESTORING, _CLOSED}),
    TaskState.RESTORING: frozenset({TaskState.RUNNING, _CLOSED}),
    TaskState.RUNNING: frozenset({TaskState.SUSPENDED, _CLOSED}),
    TaskState.SUSPENDED: frozenset({TaskState.RUNNING, _CLOSED}),
    TaskState.CLOSED: frozenset(),
}


class Task:
    """Created with its nodes instantiated but not initialized: `start()` (or, around a
    restoration, `initialize()` then `complete_restoration()`) makes it RUNNING."""

    def __init__(
        self,
        *,
        topology: Topology,
        subtopology: SubTopology,
        partition: int,
        application_id: str,
        stores: dict[str, Any],
        partition_count: Callable[[str], int],
        state_manager: StateManager | None = None,
        wall_clock_ms: Callable[[], int] | None = None,
        cache_max_entries: int = 0,
        handlers: ErrorHandlers | None = None,
        max_record_bytes: int = 1024 * 1024,
    ) -> None:
        """`stores` are all the stores the nodes may use (the task's own and global ones);
        `state_manager` owns the task's own stores: what to restore, commit and close.
        Without one (tests driving a bare task) the task commits no store."""
        self.topology = topology
        self.subtopology = subtopology
        self.partition = partition
        self.task_id = task_id_of(subtopology.id, partition)
        self.application_id = application_id
        self.stores = stores
        self.state_manager = state_manager or StateManager(
            self.task_id, partition, lambda name: f"{application_id}-{name}-changelog"
        )
        # What the nodes see of this task; the hot loop writes its record slot and stream
        # time directly.
        self.context = TaskContext(
            task_id=self.task_id,
            application_id=application_id,
            partition=partition,
            stores=stores,
            partition_count=partition_count,
            wall_clock_ms=wall_clock_ms,
            cache_max_entries=cache_max_entries,  # 0: no record cache
            max_record_bytes=max_record_bytes,
        )
        self.partition_count = partition_count
        self.processed = 0
        self.dead_lettered = 0
        self.consumed_offsets: dict[tuple[str, int], int] = {}
        # exactly_once: the next offset of each input partition as of this task's last
        # commit (or the group's offset it was sought to when created). A task resumed after
        # a rebalance restarts here, not where the group says: the group's offsets can lag
        # the task's own last transaction (runtime/eos_fencing.py, `resume_positions`).
        self.positions: dict[TopicPartition, int] = {}
        # exactly_once on Kafka: the task's transaction was begun before its commit (its
        # outputs are dispatched into it as they are produced); the commit closes it.
        self.transaction_open = False
        self.handlers = handlers or ErrorHandlers()
        self.internal_topics = set(topology.repartition_topics)
        self.nodes: dict[str, Node] = topology.instantiate(subtopology.nodes)
        self.sources: dict[str, SourceNode] = {}
        for node in self.nodes.values():
            if isinstance(node, SourceNode):
                for topic in node.topics:
                    resolved = self.context.resolve_topic(topic, topic in self.internal_topics)
                    self.sources[resolved] = node
        self.async_nodes = [n for n in self.nodes.values() if isinstance(n, AsyncValuesNode)]
        # per source: its batch loop with the stateless line after it inlined (fusion.py)
        self._fused: dict[SourceNode, BatchFn | None] = {}
        self._lifecycle = Lifecycle(f"Task {self.task_id}", TaskState.CREATED, _TASK_TRANSITIONS)

    # -- lifecycle (see TaskState) ---------------------------------------------------------
    @property
    def state(self) -> TaskState:
        return self._lifecycle.state

    def initialize(self) -> None:
        """CREATED -> RESTORING: its stores are about to be restored."""
        self._lifecycle.to(TaskState.RESTORING)

    def complete_restoration(self) -> None:
        """RESTORING -> RUNNING: initialize the nodes (they may read the restored stores)."""
        self._lifecycle.to(TaskState.RUNNING)
        for node in self.nodes.values():
            node.init(self.context)

    def start(self) -> Task:
        """CREATED -> RUNNING for stores that need no restoring (the test driver, tests)."""
        self.initialize()
        self.complete_restoration()
        return self

    def suspend(self) -> None:
        """RUNNING -> SUSPENDED: its partitions were revoked (commit first)."""
        self._lifecycle.to(TaskState.SUSPENDED)

    def resume(self) -> None:
        """SUSPENDED -> RUNNING: the next assignment gave its partitions back."""
        self._lifecycle.to(TaskState.RUNNING)

    def close(self) -> None:
        """Any state -> CLOSED: close the nodes (if they ran) and the task's own stores.
        Uncommitted changes are dropped: stores are written only at commit, so they stay
        at the last committed state. Global stores are not the task's and stay open."""
        ran = self._lifecycle.to(_CLOSED) in (TaskState.RUNNING, TaskState.SUSPENDED)
        if ran:
            for node in self.nodes.values():
                try:
                    node.close()
                except Exception:  # a failing close must not keep the stores open
                    log.exception("Closing %s of task %s failed", node.name, self.task_id)
        self.state_manager.close()

    # -- read-only views of the context (metrics, tests) -----------------------------------
    @property
    def stream_time(self) -> int:
        return self.context.stream_time

    @property
    def skipped(self) -> Counter[str]:
        return self.context.skipped

    @property
    def collector(self) -> list[ProducerRecord]:
        """Output records produced since the last `drain_output`."""
        return self.context.collector

    def flush_caches(self) -> None:
        """Forward what the record caches hold, upstream nodes first (commit step 0)."""
        self.context.flush_caches()

    # -- processing ------------------------------------------------------------------------
    def process(self, record: ConsumedRecord) -> None:
        """Run one record from its source to every sink, then any stream-time punctuation."""
        source = self.sources[record.topic]
        context = self.context
        context.current.record = record
        mark = len(context.collector)
        try:
            key, value = source.deserialize(record)
            self._process_object(source, record, key, value)
        except StreamzError as exc:
            self._handle_error(record, exc, mark)
        finally:
            self.consumed_offsets[(record.topic, record.partition)] = record.offset + 1

    def _process_object(
        self, source: SourceNode, record: ConsumedRecord, key: Any, value: Any
    ) -> None:
        timestamp = source.extract_timestamp(key, value, record.timestamp)
        if timestamp < 0:
            self._skip_negative_timestamp(record, timestamp)
            return
        context = self.context
        context.current.timestamp = timestamp
        if timestamp > context.stream_time:  # cheaper than max() per record
            context.stream_time = timestamp
        source.process(key, value, timestamp, record.headers)
        self.processed += 1
        if context.punctuations.stream_time:
            context.punctuations.fire_stream_time(context.stream_time)

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
        try:
            fused = self._fused[source]
        except KeyError:
            # planned at the first batch: the nodes are initialized (sinks know their topic)
            fused = self._fused[source] = fused_batch(self, source)
        if fused is not None:
            fused(records)
            return
        fast = source.fast_loads(first.topic)
        if fast is None or source.timestamp_extractor is not None:
            for record in records:
                self.process(record)
            return
        key_loads, value_loads = fast
        context = self.context
        current = context.current
        collector = context.collector
        punctuations = context.punctuations
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
                        if timestamp > context.stream_time:
                            context.stream_time = timestamp
                        forward(key, value, timestamp, record.headers)
                        done += 1
                        if punctuations.stream_time:
                            punctuations.fire_stream_time(context.stream_time)
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
        collector = self.context.collector
        del collector[mark:]  # drop what this record half-produced
        self.context.skipped[f"{kind} error"] += 1
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
            collector.append(
                ProducerRecord(
                    handler.topic,
                    default_partition(record.key, width),
                    record.key,
                    record.value,
                    record.timestamp,
                    headers,
                )
            )
            log.warning(
                "Dead-lettered the record at %s to %s (%s error): %s",
                where,
                handler.topic,
                kind,
                cause,
            )
        else:
            log.warning("Skipped the record at %s (%s error, %s): %s", where, kind, policy, cause)

    def _error_context(
        self, kind: str, record: ConsumedRecord, error: StreamzError
    ) -> ErrorContext:
        return ErrorContext(
            kind=kind,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            operator=getattr(error, "node", None),
            key=record.key,
            value=record.value,
            timestamp=record.timestamp,
            headers=tuple(record.headers),
            task_id=self.task_id,
        )

    def _skip_negative_timestamp(self, record: ConsumedRecord, timestamp: int) -> None:
        self.context.skipped["negative timestamp"] += 1
        log.warning(
            "Skipping the record at %s-%s@%s: its timestamp %s is negative. Set a "
            "timestamp_extractor on builder.stream() that returns a valid event time.",
            record.topic,
            record.partition,
            record.offset,
            timestamp,
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

    def has_wall_clock_punctuation(self) -> bool:
        return bool(self.context.punctuations.wall_clock)

    def punctuate_wall_clock(self, now: int | None = None) -> int:
        context = self.context
        if not context.punctuations.wall_clock:
            return 0
        try:
            return context.punctuations.fire_wall_clock(
                context.wall_clock_ms() if now is None else now
            )
        except UserCodeError as exc:
            raise self._processing_error(exc, None) from exc.cause

    # -- async operators (processor/async_ops.py): driven by the worker loop --------------
    def step_async(self) -> None:
        """Forward the results of finished calls (a key's in input order), then start
        queued calls up to each node's `max_in_flight`. Synchronous; needs the running loop."""
        for node in self.async_nodes:
            for call in node.completed():
                self._deliver(node, call)
            node.start_calls()

    def _deliver(self, node: AsyncValuesNode, call: AsyncCall) -> None:
        """Forward one call's result in the context of its own record; a failed call (or
        a failure downstream) goes to the processing error handler with its coordinates."""
        context = self.context
        record = call.record
        context.current.record = record
        context.current.timestamp = call.timestamp
        mark = len(context.collector)
        result, error = node.result_of(call)
        try:
            if error is not None:
                raise node.fail(error) from error
            node.emit_result(call, result)
        except StreamzError as exc:
            if record is None:
                raise
            self._handle_error(record, exc, mark)

    async def settle_async(self) -> None:
        """Await every call of the task and forward its result (the commit's step 0, so a
        commit covers only records whose downstream work is complete)."""
        while self.async_nodes:
            self.step_async()
            if not any(node.in_flight for node in self.async_nodes):
                return
            await wait_for_a_call(self.async_nodes)

    # -- commit support --------------------------------------------------------------------
    def drain_output(self) -> list[ProducerRecord]:
        out = self.context.collector
        self.context.collector = []
        return out
