"""The worker loop: fetch a batch, route each record to its task, process, commit.

Only this loop (and restoration, which it awaits) owns asyncio work; per record everything
is a plain function call.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import math
import time
from typing import Any

from streamz_kit.config import AppConfig
from streamz_kit.errors import BrokerError, StateStoreError, TaskMigratedError
from streamz_kit.runtime.assignor import CopartitionAssignor
from streamz_kit.runtime.async_drive import (
    IN_FLIGHT_POLL_MS,
    admit,
    async_tasks,
    drive,
    poll_room,
)
from streamz_kit.runtime.gc_tuning import GcTuning
from streamz_kit.runtime.metadata import create_internal_topics, resolve_metadata
from streamz_kit.runtime.standby import StandbyTasks
from streamz_kit.runtime.task import Task
from streamz_kit.runtime.task_manager import TaskManager
from streamz_kit.state.manager import StateManager
from streamz_kit.topology.topology import Topology
from streamz_kit.transport import connect
from streamz_kit.transport.port import ConsumedRecord, Consumer, TopicPartition, Transport

log = logging.getLogger("streamz_kit.worker")

# exactly_once: the least time between two commits that the worker makes early, because it
# caught up with its input (see Worker._eager_commit_wait); the commit interval still
# bounds the time between commits while input keeps coming.
EAGER_COMMIT_GAP_S = 0.01
# at_least_once: outputs go to the producer after every poll's records and, within a long
# poll, whenever this much processing has passed (Worker._process_sending).
SEND_EVERY_S = 0.005
# at_least_once: a commit due for more tasks than this is spread over several turns of the
# loop, this many tasks a turn, with a poll and its processing between (Worker.run).
COMMIT_SLICE_TASKS = 4


class Worker:
    def __init__(self, topology: Topology, config: AppConfig) -> None:
        self.topology = topology
        self.config = config
        self.transport: Transport | None = None
        self.consumer: Consumer | None = None
        self.global_consumer: Consumer | None = None
        self.tasks: TaskManager | None = None
        self.global_stores: dict[str, Any] = {}
        self.global_state = StateManager("global", 0, str)  # the global stores' owner
        self._global_by_topic: dict[str, Any] = {}
        self._stopping = asyncio.Event()
        self.records_processed = 0
        # Called after each processed batch with (batch, seconds): metrics sample latency
        # here, once per batch, so the per-record path carries no measuring.
        self.batch_observer: Any = None
        self.tracing: Any = None  # observability.tracing.Tracing when the App traces
        self.started_at = 0.0
        self.assignor: CopartitionAssignor | None = None
        self._gc = GcTuning()
        self._eager_commits = False  # see _eager_commit_wait

    # -- start -------------------------------------------------------------------------------
    async def start(self) -> None:
        config = self.config
        client_config = dict(config.client_config)
        if config.broker.startswith("kafka://") and (
            "partition_assignment_strategy" not in client_config
        ):
            # Co-partitioned inputs stay together, assignments stick, standbys are planned.
            self.assignor = CopartitionAssignor(
                num_standbys=config.num_standby_replicas,
                warm_indices=self._warm_indices,
                cooperative=client_config.get("rebalance_protocol") == "cooperative",
            )
            client_config["partition_assignment_strategy"] = (self.assignor,)
        self.transport = connect(config.broker, **client_config)
        await self.transport.start()
        self._eager_commits = config.exactly_once and self.transport.local_commits
        admin = self.transport.admin()
        meta = await resolve_metadata(self.topology, config, admin)
        await create_internal_topics(meta, admin)
        try:
            config.app_state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            probe = config.app_state_dir / ".writable"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StateStoreError(
                f"The state directory {config.app_state_dir} cannot be written "
                f"({exc.strerror or exc}). Point state_dir (or --state-dir) at a writable "
                "directory with free space."
            ) from None
        await self._start_global_stores()
        self.consumer = self.transport.consumer(group_id=config.application_id, read_committed=True)
        self.tasks = TaskManager(
            self.topology, config, self.transport, self.consumer, meta, self.global_stores
        )
        assignor = self.assignor
        if assignor is not None and config.num_standby_replicas > 0:
            self.tasks.standby = StandbyTasks(
                self.topology, config, self.transport, meta, lambda: set(assignor.standby)
            )
        topics: list[str] = []
        for sub in self.topology.subtopologies:
            for topic in sub.source_topics:
                resolved = config.internal_topic(topic) if topic in sub.internal_sources else topic
                if resolved not in topics:
                    topics.append(resolved)
        await self.consumer.subscribe(
            topics, on_assigned=self.tasks.on_assigned, on_revoked=self.tasks.on_revoked
        )
        self.started_at = time.monotonic()
        self._gc.apply()

    def _warm_indices(self) -> set[int]:
        """Partition indices this worker holds task state for (told to the assignor, so a
        restarted worker gets its old partitions back and restores only the tail)."""
        root = self.config.app_state_dir
        found: set[int] = set()
        if root.is_dir():
            for entry in root.iterdir():
                sub, sep, partition = entry.name.partition("_")
                if sep and sub.isdigit() and partition.isdigit() and entry.is_dir():
                    found.add(int(partition))
        return found

    async def _start_global_stores(self) -> None:
        graph = self.topology.graph
        if not graph.global_stores:
            return
        assert self.transport is not None
        admin = self.transport.admin()
        gdir = self.config.app_state_dir / "global"
        # A global store's changelog is its source topic (as in Kafka Streams).
        self.global_state = StateManager("global", 0, lambda name: graph.global_stores[name].topic)
        for name in graph.global_stores:
            builder = self.topology.store_builder(name)
            self.global_stores[name] = self.global_state.register(
                name, builder.build(gdir, self.config.rocksdb_options)
            )
        tps: list[TopicPartition] = []
        for name, spec in graph.global_stores.items():
            source = graph.nodes[spec.source_node].factory()
            self._global_by_topic[spec.topic] = (self.global_stores[name], source)
            counts = await admin.partition_counts([spec.topic])
            tps.extend(TopicPartition(spec.topic, p) for p in range(counts.get(spec.topic, 1)))
        consumer = self.transport.consumer(group_id=None)
        consumer.assign(tps)
        for tp in tps:
            store = self._global_by_topic[tp.topic][0]
            stored = self.global_state.changelog_offset(store.name)
            # A global store keeps one offset; with several partitions, replay all (idempotent).
            if stored is not None and len(tps) == 1:
                consumer.seek(tp, stored)
        self.global_consumer = consumer
        # Loaded when every partition reached its end offset and two polls came back
        # empty (as restore(): empty polls alone end too early when first fetches are slow).
        # A transaction left open on a source topic keeps a read_committed position below
        # the end: after 10 s without a record the load stops there, and says so.
        ends = await admin.list_offsets(tps, "latest")
        exact = bool(getattr(self.transport, "exact_end_offsets", False))
        empty, progress_at = 0, time.monotonic()
        while empty < 2 or (
            not exact and any(_position(consumer, tp) < ends.get(tp, 0) for tp in tps)
        ):
            if time.monotonic() - progress_at > 10:
                log.warning(
                    "Global stores: no record for 10 s below the end offsets %s; starting "
                    "with what was read (an open transaction on the source topic?).",
                    {f"{tp.topic}[{tp.partition}]": ends.get(tp, 0) for tp in tps},
                )
                break
            got = await self._poll_global(timeout_ms=100)
            empty = empty + 1 if got == 0 else 0
            if got:
                progress_at = time.monotonic()

    async def _poll_global(self, timeout_ms: int = 0) -> int:
        if self.global_consumer is None:
            return 0
        batch = await self.global_consumer.poll(timeout_ms=timeout_ms, max_records=20_000)
        got = 0
        for tp, records in batch.items():
            if not records:
                continue
            store, source = self._global_by_topic[tp.topic]
            for record in records:
                key, value = source.deserialize(record)
                if key is None:
                    continue
                if value is None:
                    store.delete(key)
                else:
                    store.put(key, value, record.timestamp)
            self.global_state.checkpoint(store.name, records[-1].offset + 1)
            got += len(records)
        return got

    # -- run ---------------------------------------------------------------------------------
    async def run(self) -> None:
        assert self.consumer is not None and self.tasks is not None
        config = self.config
        consumer, tasks = self.consumer, self.tasks
        last_commit = last_cleanup = time.monotonic()
        interval = config.commit_interval_ms / 1000.0
        poll_ms, max_records = config.poll_timeout_ms, config.max_poll_records
        calling: list[Task] = []
        rest: list[str] = []  # at_least_once: tasks still to commit in this commit round
        round_started = last_commit
        while not self._stopping.is_set():
            eager = self._eager_commit_wait(last_commit, calling)
            if eager is not None:  # uncommitted work: look for input, don't wait for it
                poll_ms = min(poll_ms, eager)
            batch = await consumer.poll(timeout_ms=poll_ms, max_records=max_records)
            if batch:
                started = time.perf_counter()
                if self.tracing is None:
                    if config.exactly_once:  # outputs are written at the commit
                        self._process(batch, tasks)
                    else:
                        await self._process_sending(batch, tasks)
                else:
                    self.tracing.process(batch, tasks, self._process)
                if self.batch_observer is not None:
                    self.batch_observer(batch, time.perf_counter() - started)
            calling = async_tasks(tasks.running().values())
            if calling:  # async operators: forward finished calls, pause while a node is full
                in_flight = await drive(calling)
                poll_ms = (
                    min(config.poll_timeout_ms, IN_FLIGHT_POLL_MS)
                    if in_flight
                    else (config.poll_timeout_ms)
                )
                # fetch no more than the nodes can queue: what a commit waits for stays bounded
                max_records = poll_room(calling, config.max_poll_records)
            else:
                poll_ms, max_records = config.poll_timeout_ms, config.max_poll_records
            if batch or calling:
                try:
                    await tasks.send_outputs()
                except TaskMigratedError as exc:  # exactly_once: a fenced producer
                    log.warning("%s", exc)
            await self._poll_global()
            if tasks.standby is not None:
                await tasks.standby.poll()
            running = tasks.running()
            if running:
                now_ms = int(time.time() * 1000)
                for task in running.values():
                    if task.has_wall_clock_punctuation():
                        task.punctuate_wall_clock(now_ms)
            now = time.monotonic()
            if (
                rest
                or now - last_commit >= interval
                or tasks.stats.records_since_commit >= config.commit_max_records
                or (not batch and self._eager_commit_wait(last_commit, calling, now) == 0)
            ) and (config.exactly_once or not consumer.rebalancing()):
                # (at_least_once defers its commit while a cooperative round runs: Kafka
                # refuses offsets until it ends, and waiting would stop every task.)
                only: list[str] | None = None
                if not config.exactly_once:
                    # One commit of every task stops processing for all of it (tens of ms
                    # with many stateful tasks); in slices, new input is polled and
                    # processed between them. exactly_once commits all tasks in one
                    # transaction step, and its outputs wait for the commit anyway.
                    if not rest:
                        rest, round_started = sorted(tasks.running()), now
                    only, rest = rest[:COMMIT_SLICE_TASKS], rest[COMMIT_SLICE_TASKS:]
                commit = (
                    tasks.commit if only is None else functools.partial(tasks.commit, only=only)
                )
                try:
                    if self.tracing is None:
                        await commit()
                    else:
                        await self.tracing.commit(commit)
                except TaskMigratedError as exc:
                    # The migrated tasks are closed already; the consumer rejoins the group
                    # at its next poll and the rebalance hands out tasks again.
                    log.warning("%s", exc)
                    rest = []
                if not rest:
                    last_commit = now if only is None else round_started
            if now - last_cleanup >= 60:
                tasks.clean_stale_state()
                last_cleanup = now

    def _eager_commit_wait(
        self, last_commit: float, calling: list[Task], now: float | None = None
    ) -> int | None:
        """exactly_once: milliseconds until the worker may commit early, or None when it
        should not. Outputs of a transaction become visible only at its commit, and each
        repartition hop reads read_committed, so waiting out `commit_interval_ms` costs
        every hop up to a whole interval. The interval is therefore a maximum: once the
        worker has processed records and a poll finds nothing new (it has caught up with
        its input), it commits at once, though not sooner than EAGER_COMMIT_GAP_S after
        the previous commit (a trickle of input must not turn into a commit per record).
        While input keeps coming every poll returns records, so a busy worker still
        commits by the interval and its throughput is unchanged.

        Only where a commit is one local write (`Transport.local_commits`: the embedded
        log); on Kafka each commit costs broker round trips per task, and not with async
        operators (their commit waits for the calls in flight; the interval covers them)."""
        if (
            not self._eager_commits
            or calling
            or self.tasks is None
            or self.tasks.stats.records_since_commit == 0
        ):
            return None
        now = time.monotonic() if now is None else now
        return max(0, math.ceil(round((last_commit + EAGER_COMMIT_GAP_S - now) * 1000, 3)))

    def _process(
        self, batch: dict[TopicPartition, list[ConsumedRecord]], tasks: TaskManager
    ) -> None:
        count = 0
        for task, lists in self._route(batch, tasks).items():
            count += self._run_task(task, lists)
        self._counted(tasks, count)

    async def _process_sending(
        self, batch: dict[TopicPartition, list[ConsumedRecord]], tasks: TaskManager
    ) -> None:
        """at_least_once: `_process`, handing the outputs made so far to the producer
        whenever SEND_EVERY_S of processing has passed. A poll can bring every task's
        records (a repartition hop's too); without this, the output of the first task
        processed would wait for all the others before it is written."""
        count = 0
        mark = time.perf_counter()
        for task, lists in self._route(batch, tasks).items():
            count += self._run_task(task, lists)
            if time.perf_counter() - mark >= SEND_EVERY_S:
                self._counted(tasks, count)
                count = 0
                await tasks.send_outputs()
                mark = time.perf_counter()
        self._counted(tasks, count)

    def _route(
        self, batch: dict[TopicPartition, list[ConsumedRecord]], tasks: TaskManager
    ) -> dict[Task, list[list[ConsumedRecord]]]:
        task_by_tp = tasks.task_by_tp
        by_task: dict[Task, list[list[ConsumedRecord]]] = {}
        for tp, records in batch.items():
            if not records:
                continue
            task = task_by_tp.get(tp)
            if task is None:
                continue
            by_task.setdefault(task, []).append(records)
        return by_task

    def _run_task(self, task: Task, lists: list[list[ConsumedRecord]]) -> int:
        """Process one task's records of a poll; returns how many."""
        if task.async_nodes:  # no more than the async nodes can queue (async_drive.py)
            assert self.consumer is not None
            lists = admit(task, lists, self.consumer)
        if len(lists) == 1:
            task.process_batch(lists[0])
            return len(lists[0])
        # A task reading several partitions takes records in timestamp order, as Kafka
        # Streams' partition group does, so joins see time move forward.
        process = task.process
        count = 0
        for record in heapq.merge(*lists, key=_timestamp):
            process(record)
            count += 1
        return count

    def _counted(self, tasks: TaskManager, count: int) -> None:
        tasks.stats.records_since_commit += count
        self.records_processed += count

    def request_stop(self) -> None:
        self._stopping.set()

    async def close(self, commit: bool = True) -> None:
        self._gc.restore()
        if self.tasks is not None:
            try:
                await self.tasks.close(commit=commit)
            finally:
                self.tasks = None
        for consumer in (self.consumer, self.global_consumer):
            if consumer is not None:
                await consumer.close()
        self.consumer = self.global_consumer = None
        self.global_state.close()  # shared by every task, so closed here and only here
        self.global_stores.clear()
        if self.transport is not None:
            await self.transport.close()
            self.transport = None


def _position(consumer: Consumer, tp: TopicPartition) -> int:
    """The consumer's position, or -1 while it is being reset (offset out of range)."""
    try:
        return consumer.position(tp)
    except BrokerError:
        return -1


def _timestamp(record: ConsumedRecord) -> int:
    return record.timestamp


__all__ = ["Worker"]
