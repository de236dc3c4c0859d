"""Creating, restoring, committing and closing the tasks this worker owns.

Each task's stores belong to its `StateManager` (state/manager.py); the commit runs the
numbered steps of runtime/commit.py for the configured guarantee, then purges repartition
topics up to the offsets it committed (runtime/purge.py).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from streamz_kit.config import AppConfig
from streamz_kit.errors import ProducerFencedError, StreamzError, TaskMigratedError
from streamz_kit.runtime.commit import commit_at_least_once, commit_exactly_once
from streamz_kit.runtime.eos_fencing import (
    fence_previous_owners,
    resume_positions,
    seek_to_committed,
    transactional_id,
)
from streamz_kit.runtime.metadata import TopologyMetadata
from streamz_kit.runtime.purge import RepartitionPurge
from streamz_kit.runtime.restore import restore
from streamz_kit.runtime.source_changelog import bound_source_restores
from streamz_kit.runtime.standby import StandbyTasks
from streamz_kit.runtime.task import Task, TaskState, task_id_of
from streamz_kit.state.manager import ChangelogTarget, StateManager
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Consumer, Producer, TopicPartition, Transport

log = logging.getLogger("streamz_kit.tasks")
ABORT_TIMEOUT_S = 5.0  # aborting a closed task's open transaction; its next owner would too


@dataclass
class CommitStats:
    commits: int = 0
    last_commit_ms: float = 0.0
    total_commit_ms: float = 0.0
    records_since_commit: int = 0
    restored_records: int = 0
    restore_seconds: float = 0.0
    per_task_restored: dict[str, int] = field(default_factory=dict)


class TaskManager:
    def __init__(
        self,
        topology: Topology,
        config: AppConfig,
        transport: Transport,
        consumer: Consumer,
        meta: TopologyMetadata,
        global_stores: dict[str, Any],
    ) -> None:
        self.topology = topology
        self.config = config
        self.transport = transport
        self.consumer = consumer
        self.meta = meta
        self.global_stores = global_stores
        # Every task this worker holds, whatever its TaskState (CLOSED ones leave the map);
        # `running()`, `restoring` and `suspended` are views of it.
        self.tasks: dict[str, Task] = {}
        # The running tasks' input partitions (the worker loop routes records with it).
        self.task_by_tp: dict[TopicPartition, Task] = {}
        self.producers: dict[str, Producer] = {}  # per task under exactly_once
        self.shared_producer: Producer | None = None
        self.stats = CommitStats()
        self.restore_progress: dict[str, Any] = {}  # restore pass -> its progress (metrics)
        self.standby: StandbyTasks | None = None
        self.purge = RepartitionPurge.of(transport, topology, config)

    # -- views of the task map ----------------------------------------------------------------
    def running(self) -> dict[str, Task]:
        return {i: t for i, t in self.tasks.items() if t.state is TaskState.RUNNING}

    @property
    def restoring(self) -> set[str]:
        return {i for i, t in self.tasks.items() if t.state is TaskState.RESTORING}

    @property
    def suspended(self) -> dict[str, Task]:
        """Tasks whose partitions were revoked, kept open until the assignment that follows
        says whether they stay here (resume) or not (close)."""
        return {i: t for i, t in self.tasks.items() if t.state is TaskState.SUSPENDED}

    # -- assignment --------------------------------------------------------------------------
    def _task_partitions(
        self, tps: set[TopicPartition]
    ) -> dict[tuple[int, int], list[TopicPartition]]:
        wanted: dict[tuple[int, int], list[TopicPartition]] = {}
        prefix = f"{self.config.application_id}-"
        for tp in tps:
            topic = tp.topic
            plain = topic.removeprefix(prefix)
            sub = self.topology.subtopology_for_topic(plain) or self.topology.subtopology_for_topic(
                topic
            )
            if sub is None:
                continue
            wanted.setdefault((sub.id, tp.partition), []).append(tp)
        return wanted

    def _source_partitions(self, sub_id: int, partition: int) -> set[TopicPartition]:
        sub = self.topology.subtopologies[sub_id]
        return {
            TopicPartition(
                self.config.internal_topic(t) if t in sub.internal_sources else t, partition
            )
            for t in sub.source_topics
        }

    async def on_assigned(self, tps: set[TopicPartition]) -> None:
        """Resume suspended tasks that came back, close the rest, create (and restore, in
        one pass) the new ones, then re-plan standbys."""
        wanted = self._task_partitions(tps)
        wanted_ids = {task_id_of(s, p) for s, p in wanted}
        for task_id in [t for t in self.suspended if t not in wanted_ids]:
            await self._close_task(task_id)
        new: list[tuple[int, int]] = []
        for (sub_id, partition), partitions in sorted(wanted.items()):
            task_id = task_id_of(sub_id, partition)
            missing = self._source_partitions(sub_id, partition) - set(partitions)
            if missing:
                # Another assignor split co-partitioned inputs: run with what we have.
                log.warning(
                    "Task %s got only part of its input partitions (missing %s); joins "
                    "across them will miss records until the group is rebalanced with "
                    "streamz_kit's assignor.",
                    task_id,
                    sorted(missing),
                )
            task = self.tasks.get(task_id)
            if task is None:
                new.append((sub_id, partition))
            elif task.state is TaskState.SUSPENDED:
                task.resume()
                if self.config.exactly_once:
                    resume_positions(self.consumer, task.positions)
        if new:
            if self.config.exactly_once and any(t.transaction_open for t in self.tasks.values()):
                # Kept tasks (cooperative) commit before the new ones restore, however long
                # that takes: their open transactions must not outlive the timeout.
                try:
                    await self.commit(force=True)
                except TaskMigratedError as exc:
                    log.warning("%s", exc)
            await self._create_tasks(new)
        for (sub_id, partition), partitions in wanted.items():
            task = self.tasks.get(task_id_of(sub_id, partition))
            if task is not None and task.state is TaskState.RUNNING:
                for tp in partitions:
                    self.task_by_tp[tp] = task
        running = self.running()
        if self.standby is not None:
            self.standby.update(set(running))
        log.info("Assigned %d partitions; running tasks %s", len(tps), sorted(running))

    async def on_revoked(self, tps: set[TopicPartition]) -> None:
        """Commit, then suspend the tasks of the revoked partitions: under the eager
        protocol most come straight back, and a suspended task resumes with its stores
        open instead of closing and restoring them. If the commit fails because the group
        already moved on, the tasks are closed without committing (their new owners
        reprocess from the last committed offsets)."""
        if not tps:
            return
        gone = {task.task_id for tp, task in self.task_by_tp.items() if tp in tps}
        try:
            await self.commit(force=True)
        except TaskMigratedError as exc:
            log.warning("%s", exc)
        for task_id in gone:
            task = self.tasks.get(task_id)
            if task is None or task.state is not TaskState.RUNNING:
                continue  # closed by a failed commit above
            for tp in [tp for tp, t in self.task_by_tp.items() if t is task]:
                del self.task_by_tp[tp]
            task.suspend()
        log.info("Revoked %d partitions; suspended tasks %s", len(tps), sorted(gone))

    def _build_state(self, sub_id: int, partition: int) -> StateManager:
        """The new task's stores: its standby's (already warm) plus any it lacks."""
        sub = self.topology.subtopologies[sub_id]
        task_id = task_id_of(sub_id, partition)
        state = StateManager(
            task_id,
            partition,
            self.config.changelog_topic,
            source_changelogs=self.topology.graph.source_changelogs,
        )
        warm = self.standby.take(task_id) if self.standby is not None else None
        if warm is not None and warm.stores:
            log.info("Task %s takes over the stores of its standby", task_id)
            for name, store in warm.stores.items():
                state.register(name, store)
        task_dir = self.config.app_state_dir / task_id
        try:
            for name in sub.stores:
                if name not in state.stores:
                    builder = self.topology.store_builder(name)
                    state.register(name, builder.build(task_dir, self.config.rocksdb_options))
        except BaseException:
            state.close()
            raise
        return state

    async def _create_tasks(self, new: list[tuple[int, int]]) -> None:
        """Create every new task (CREATED), restore all their stores in one pass
        (RESTORING), then initialize them (RUNNING)."""
        created: list[Task] = []
        targets: list[ChangelogTarget] = []
        owner: dict[TopicPartition, str] = {}
        ids = [task_id_of(s, p) for s, p in new]
        try:
            if self.config.exactly_once:  # before anything of the tasks is read
                await fence_previous_owners(
                    self.transport, self.config.application_id, self.producers, ids
                )
            for sub_id, partition in new:
                task = self._new_task(sub_id, partition, self._build_state(sub_id, partition))
                created.append(task)
                for target in task.state_manager.restore_targets():
                    targets.append(target)
                    owner[target.partition] = task.task_id
            await bound_source_restores(self.consumer, targets)
            for task in created:
                task.initialize()
            result = await restore(
                self.transport,
                targets,
                f"tasks {', '.join(ids)}",
                registry=self.restore_progress,
                keys=tuple(ids),
            )
            for task in created:
                task.complete_restoration()
        except BaseException:
            for task in created:
                del self.tasks[task.task_id]
                task.close()
            for task_id in ids:
                producer = self.producers.pop(task_id, None)
                if producer is not None:
                    await producer.close()
            raise
        self.stats.restored_records += result.records
        self.stats.restore_seconds += result.seconds
        for task_id in ids:
            self.stats.per_task_restored[task_id] = 0
        for tp, count in result.per_partition.items():
            self.stats.per_task_restored[owner[tp]] += count
        log.info(
            "Restored tasks %s: %d changelog records in %.2f s",
            ids,
            result.records,
            result.seconds,
        )
        if self.config.exactly_once:
            for task_id in ids:
                if task_id not in self.producers:
                    self.producers[task_id] = self.transport.producer(
                        transactional_id=transactional_id(self.config.application_id, task_id)
                    )
            committed = await seek_to_committed(
                self.consumer, [tp for s, p in new for tp in self._source_partitions(s, p)]
            )
            for sub_id, partition in new:
                task = self.tasks[task_id_of(sub_id, partition)]
                for tp in self._source_partitions(sub_id, partition):
                    if tp in committed:
                        task.positions[tp] = committed[tp]

    def _new_task(self, sub_id: int, partition: int, state: StateManager) -> Task:
        """A CREATED task over its own stores and the global ones, in the task map."""
        stores: dict[str, Any] = dict(self.global_stores)
        stores.update(state.stores)
        task = Task(
            topology=self.topology,
            subtopology=self.topology.subtopologies[sub_id],
            partition=partition,
            application_id=self.config.application_id,
            stores=stores,
            state_manager=state,
            partition_count=self.meta.count,
            cache_max_entries=self.config.cache_max_entries,
            handlers=self.config.handlers,
            max_record_bytes=self.config.max_record_bytes,
        )
        self.tasks[task.task_id] = task
        return task

    async def _close_task(self, task_id: str) -> None:
        """Close a task and its stores. Uncommitted changes are dropped: stores are written
        only at commit, so they stay at the last committed state."""
        task = self.tasks.pop(task_id, None)
        if task is None:
            return
        for tp in [tp for tp, t in self.task_by_tp.items() if t is task]:
            del self.task_by_tp[tp]
        task.close()  # its nodes and its own stores; global stores are not the task's
        producer = self.producers.pop(task_id, None)
        if producer is not None:
            if task.transaction_open:
                await _abort_quietly(producer, task_id)
            await producer.close()

    # -- commit ----------------------------------------------------------------------------
    async def commit(self, force: bool = False, only: Collection[str] | None = None) -> bool:
        """Commit every running task (suspended ones were committed when suspended), or
        under at_least_once only the running tasks named in `only` (the worker spreads a
        commit of many tasks over several loop turns; see Worker.run)."""
        running = self.running()
        if only is not None and not self.config.exactly_once:
            running = {i: t for i, t in running.items() if i in only}
        if not running:
            return False
        started = time.perf_counter()
        for task in running.values():
            await task.settle_async()  # async operators: their calls complete first
        if self.config.exactly_once:
            pairs = [(task, self.producers[task_id]) for task_id, task in running.items()]
            try:
                committed = await commit_exactly_once(pairs, self.config.application_id)
                self.purge.committed(committed)
            except TaskMigratedError:
                # A fenced task means the group moved on without this worker (it was
                # stalled past its session timeout): every task here is stale. Close
                # them all without committing and rejoin, in one step and one line.
                await self._close_migrated(list(self.tasks), fenced=True)
        else:
            try:
                committed = await commit_at_least_once(
                    running.values(), self._producer_for_outputs(), self.consumer
                )
                self.purge.committed(committed)
            except TaskMigratedError:
                await self._close_migrated(list(running))
        await self.purge.maybe_purge()
        elapsed = (time.perf_counter() - started) * 1000
        self.stats.commits += 1
        self.stats.last_commit_ms = elapsed
        self.stats.total_commit_ms += elapsed
        self.stats.records_since_commit = 0
        return True

    def _producer_for_outputs(self) -> Producer:
        """at_least_once: one producer shared by every task."""
        if self.shared_producer is None:
            self.shared_producer = self.transport.producer()
        return self.shared_producer

    async def send_outputs(self) -> None:
        """at_least_once: hand processed records to the broker now, not at the next commit,
        so downstream sub-topologies and consumers see them within a poll loop. Store
        changes still wait for the commit, which keeps each store's offset exact.
        exactly_once: the same into each task's open transaction, where the producers allow
        it (`_dispatch_in_transactions`)."""
        if self.config.exactly_once:
            await self._dispatch_in_transactions()
            return
        producer = self._producer_for_outputs()
        sent = False
        for task in self.running().values():
            if task.collector:
                producer.send_all(task.drain_output())
                sent = True
        if sent:
            # Not flush(): Kafka confirms these while the next batch is processed; the
            # commit's flush waits for them before any offset is committed.
            await producer.dispatch()

    async def _dispatch_in_transactions(self) -> None:
        """exactly_once on Kafka: each task's outputs go into its transaction as they are
        produced, as Kafka Streams sends them, so they travel while the next records are
        processed and the commit waits only for the rest (readers see them at the commit,
        read_committed). The transaction begins at the task's first output after a commit.
        A fenced producer closes every task here (as a fenced commit does)."""
        sending: list[Producer] = []
        try:
            for task_id, task in self.running().items():
                producer = self.producers.get(task_id)
                if (
                    not task.collector
                    or producer is None
                    or not producer.dispatches_in_transaction(self.config.commit_interval_ms)
                ):
                    continue
                if not task.transaction_open:
                    await producer.begin()
                    task.transaction_open = True
                for record in task.drain_output():
                    producer.send(record)
                sending.append(producer)
            if sending:
                await asyncio.gather(*(p.dispatch() for p in sending))
        except ProducerFencedError:
            await self._close_migrated(list(self.tasks), fenced=True)

    async def _close_migrated(self, task_ids: list[str], fenced: bool = False) -> None:
        """Close tasks whose commit the group refused (they belong to another worker now)
        without committing, and say so: their records since the last commit are
        reprocessed by the new owner (at_least_once) or were aborted (exactly_once)."""
        for task_id in task_ids:
            await self._close_task(task_id)
        self.consumer.request_rejoin()
        why = (
            "were fenced: another worker took them over while this one was stalled, so "
            "their open transactions are aborted;"
            if fenced
            else "moved to another worker before their commit;"
        )
        raise TaskMigratedError(
            f"Tasks {sorted(task_ids)} {why} they were closed without "
            "committing and this worker rejoins the group."
        )

    async def close(self, commit: bool = True) -> None:
        if commit:
            try:
                await self.commit(force=True)
            except TaskMigratedError as exc:
                log.warning("%s", exc)
        for task_id in list(self.tasks):
            await self._close_task(task_id)
        if self.standby is not None:
            await self.standby.close()
        if self.shared_producer is not None:
            await self.shared_producer.close()
            self.shared_producer = None
        await self.purge.close()

    def clean_stale_state(self, now: float | None = None) -> list[str]:
        """Delete state directories of tasks this worker does not run, once they are older
        than `state_cleanup_delay_ms` (a task that moved away may come back soon)."""
        root = self.config.app_state_dir
        if not root.is_dir():
            return []
        now = time.time() if now is None else now
        delay = self.config.state_cleanup_delay_ms / 1000
        removed = []
        # Every task held here (suspended ones too) and standby tasks keep their
        # directories (getattr: tests build a bare manager for this method).
        kept = set(self.tasks)
        standby = getattr(self, "standby", None)
        if standby is not None:
            kept |= standby.task_ids
        for entry in root.iterdir():
            if not entry.is_dir() or entry.name in kept or entry.name == "global":
                continue
            if "_" not in entry.name or now - entry.stat().st_mtime < delay:
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        if removed:
            log.info("Removed state of tasks no longer assigned here: %s", sorted(removed))
        return removed


async def _abort_quietly(producer: Producer, task_id: str) -> None:
    """Abort the open transaction of a task closed without committing, so read_committed
    readers of its outputs need not wait for its next owner to fence it. A fenced producer
    or an unreachable broker leaves that to the next owner (InitProducerId aborts it)."""
    try:
        await asyncio.wait_for(producer.abort(), ABORT_TIMEOUT_S)
    except (TimeoutError, StreamzError, AssertionError) as exc:
        log.debug("Task %s: its open transaction is left to its next owner (%r)", task_id, exc)
