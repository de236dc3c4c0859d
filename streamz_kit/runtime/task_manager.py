"""Creating, restoring, committing and closing the tasks this worker owns.

Commit, in numbered steps (Kafka Streams' order, with Quix's store-after-commit refinement):
1. drain each task's output records and each logged store's pending changes;
2. produce them (changelog records go to the task's partition of `<app>-<store>-changelog`);
3. make them durable with the input offsets: under exactly_once one transaction per task
   (records + offsets), under at_least_once flush then commit the offsets;
4. write each store's changes and the changelog offset they reflect in one write batch;
5. purge repartition topics up to the committed offsets (runtime/purge.py).
A crash between any two steps loses nothing: stores are written only after step 3, and a
restart restores the changelog tail past the offset kept in the store.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from streamz_kit.config import AppConfig
from streamz_kit.errors import ProducerFencedError, StateStoreError, TaskMigratedError
from streamz_kit.runtime.eos_fencing import (
    fence_previous_owners,
    seek_to_committed,
    transactional_id,
)
from streamz_kit.runtime.faults import maybe_crash
from streamz_kit.runtime.metadata import TopologyMetadata
from streamz_kit.runtime.purge import RepartitionPurge
from streamz_kit.runtime.restore import RestoreTarget, restore
from streamz_kit.runtime.source_changelog import bound_source_restores
from streamz_kit.runtime.standby import StandbyTasks
from streamz_kit.runtime.task import Task, task_id_of
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Consumer, Producer, ProducerRecord, TopicPartition, Transport

_new = tuple.__new__
log = logging.getLogger("streamz_kit.tasks")


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
        self.tasks: dict[str, Task] = {}
        self.task_by_tp: dict[TopicPartition, Task] = {}
        self.producers: dict[str, Producer] = {}  # per task under exactly_once
        self.shared_producer: Producer | None = None
        self.stats = CommitStats()
        self.restoring: set[str] = set()
        self.restore_progress: dict[str, Any] = {}  # restore pass -> its progress (metrics)
        # Tasks whose partitions were revoked, kept open until the assignment that follows
        # says whether they stay here (resume) or not (close).
        self.suspended: dict[str, Task] = {}
        self.standby: StandbyTasks | None = None
        # Next input offset per task and partition as of its last commit: the position of
        # stores whose changelog is their table's source topic (topology optimization).
        self._positions: dict[str, dict[TopicPartition, int]] = {}
        self.purge = RepartitionPurge.of(transport, topology, config)

    # -- assignment --------------------------------------------------------------------------
    def _task_partitions(self, tps: set[TopicPartition]) -> dict[tuple[int, int], list[TopicPartition]]:
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
                    "streamz_kit's assignor.", task_id, sorted(missing),
                )
            if task_id in self.suspended:
                self.tasks[task_id] = self.suspended.pop(task_id)
            elif task_id not in self.tasks:
                new.append((sub_id, partition))
        if new:
            await self._create_tasks(new)
        for (sub_id, partition), partitions in wanted.items():
            task = self.tasks.get(task_id_of(sub_id, partition))
            if task is not None:
                for tp in partitions:
                    self.task_by_tp[tp] = task
        if self.standby is not None:
            self.standby.update(set(self.tasks))
        log.info(
            "Assigned %d partitions; running tasks %s", len(tps), sorted(self.tasks)
        )

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
            task = self.tasks.pop(task_id, None)
            if task is None:
                continue
            for tp in [tp for tp, t in self.task_by_tp.items() if t is task]:
                del self.task_by_tp[tp]
            self.suspended[task_id] = task
        log.info("Revoked %d partitions; suspended tasks %s", len(tps), sorted(gone))

    def _build_stores(self, sub_id: int, partition: int) -> dict[str, Any]:
        sub = self.topology.subtopologies[sub_id]
        task_id = task_id_of(sub_id, partition)
        stores = (self.standby.take(task_id) if self.standby is not None else None) or {}
        if stores:
            log.info("Task %s takes over the stores of its standby", task_id)
        task_dir = self.config.app_state_dir / task_id
        for name in sub.stores:
            if name not in stores:
                builder = self.topology.store_builder(name)
                stores[name] = builder.build(task_dir, self.config.rocksdb_options)
        return stores

    async def _create_tasks(self, new: list[tuple[int, int]]) -> None:
        """Build every new task's stores, restore all of them in one pass, then start them."""
        built: dict[tuple[int, int], dict[str, Any]] = {}
        targets: list[RestoreTarget] = []
        owner: dict[TopicPartition, str] = {}
        ids = [task_id_of(s, p) for s, p in new]
        try:
            if self.config.exactly_once:  # before anything of the tasks is read
                await fence_previous_owners(
                    self.transport, self.config.application_id, self.producers, ids)
            source_changelogs = self.topology.graph.source_changelogs
            for sub_id, partition in new:
                stores = built[(sub_id, partition)] = self._build_stores(sub_id, partition)
                for name, store in stores.items():
                    if name in source_changelogs:
                        tp = TopicPartition(source_changelogs[name], partition)
                        targets.append(RestoreTarget(store, tp, from_source=True))
                        owner[tp] = task_id_of(sub_id, partition)
                    elif self.topology.store_builder(name).logging:
                        tp = TopicPartition(self.config.changelog_topic(name), partition)
                        targets.append(RestoreTarget(store, tp))
                        owner[tp] = task_id_of(sub_id, partition)
            await bound_source_restores(self.consumer, targets)
            self.restoring.update(ids)
            try:
                result = await restore(
                    self.transport, targets, f"tasks {', '.join(ids)}",
                    registry=self.restore_progress, keys=tuple(ids),
                )
            finally:
                self.restoring.difference_update(ids)
        except BaseException:
            for stores in built.values():
                for store in stores.values():
                    store.close()
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
            ids, result.records, result.seconds,
        )
        for (sub_id, partition), task_stores in built.items():
            self._start_task(sub_id, partition, task_stores)
        if self.config.exactly_once:
            await seek_to_committed(
                self.consumer, [tp for s, p in new for tp in self._source_partitions(s, p)])

    def _start_task(self, sub_id: int, partition: int, task_stores: dict[str, Any]) -> Task:
        task_id = task_id_of(sub_id, partition)
        stores: dict[str, Any] = dict(self.global_stores)
        stores.update(task_stores)
        task = Task(
            topology=self.topology,
            subtopology=self.topology.subtopologies[sub_id],
            partition=partition,
            application_id=self.config.application_id,
            stores=stores,
            partition_count=self.meta.count,
            cache_max_entries=self.config.cache_max_entries,
            handlers=self.config.handlers,
            max_record_bytes=self.config.max_record_bytes,
        )
        self.tasks[task_id] = task
        if self.config.exactly_once and task_id not in self.producers:
            self.producers[task_id] = self.transport.producer(
                transactional_id=transactional_id(self.config.application_id, task_id))
        return task

    async def _close_task(self, task_id: str) -> None:
        """Close a task and its stores. Uncommitted changes are dropped: stores are written
        only at commit, so they stay at the last committed state."""
        task = self.tasks.pop(task_id, None) or self.suspended.pop(task_id, None)
        if task is None:
            return
        for tp in [tp for tp, t in self.task_by_tp.items() if t is task]:
            del self.task_by_tp[tp]
        for node in task.nodes.values():
            try:
                node.close()
            except Exception:  # a failing close must not keep the stores open
                log.exception("Closing %s of task %s failed", node.name, task_id)
        for name, store in task.stores.items():
            if name in self.global_stores:
                continue
            store.close()
        producer = self.producers.pop(task_id, None)
        if producer is not None:
            await producer.close()

    # -- commit ----------------------------------------------------------------------------
    def _changelog_records(self, task: Task) -> list[tuple[Any, list[ProducerRecord]]]:
        out = []
        ts = max(task.stream_time, 0)
        for name in task.subtopology.stores:
            store = task.stores[name]
            if not store.changelog_enabled:
                continue
            changes = store.buffer.pending_changes()
            if not changes:
                continue
            topic = self.config.changelog_topic(name)
            partition = task.partition
            out.append(
                # tuple.__new__: a commit can carry tens of thousands of changelog records
                (store, [_new(ProducerRecord, (topic, partition, k, v, ts, ()))
                         for k, v in changes])
            )
        return out

    def _apply_stores(self, task: Task, offsets: dict[TopicPartition, int]) -> None:
        for name in task.subtopology.stores:
            store = task.stores[name]
            if not store.buffer.has_pending():
                continue
            source = self.topology.graph.source_changelogs.get(name)
            if source is not None:  # the store's position is the source topic's
                next_offset = self._positions.get(task.task_id, {}).get(
                    TopicPartition(source, task.partition))
            else:
                last = offsets.get(
                    TopicPartition(self.config.changelog_topic(name), task.partition))
                next_offset = None if last is None else last + 1
            try:
                store.buffer.apply_pending(next_offset)
            except Exception as exc:
                # The commit already happened: the changes are safe in the changelog and the
                # next start restores them. Stop rather than run on with a store behind.
                raise StateStoreError(
                    f"Writing state store {name!r} of task {task.task_id} failed ({exc}); "
                    "is the disk full? Work committed so far is safe in the changelog and "
                    "is restored on the next start: free space (or fix the state "
                    "directory) and start the worker again."
                ) from exc

    def _offsets_of(self, task: Task) -> dict[TopicPartition, int]:
        offsets = {TopicPartition(t, p): o for (t, p), o in task.consumed_offsets.items()}
        task.consumed_offsets.clear()
        if self.topology.graph.source_changelogs:  # stores positioned on their source topic
            self._positions.setdefault(task.task_id, {}).update(offsets)
        return offsets

    async def commit(self, force: bool = False) -> bool:
        if not self.tasks:
            return False
        started = time.perf_counter()
        if self.config.exactly_once:
            for task_id, task in list(self.tasks.items()):
                try:
                    await self._commit_task_transaction(task_id, task)
                except TaskMigratedError:
                    # A fenced task means the group moved on without this worker (it was
                    # stalled past its session timeout): every task here is stale. Close
                    # them all without committing and rejoin, in one step and one line.
                    await self._close_migrated(list(self.tasks), fenced=True)
        else:
            try:
                await self._commit_at_least_once()
            except TaskMigratedError:
                await self._close_migrated(list(self.tasks))
        await self.purge.maybe_purge()
        elapsed = (time.perf_counter() - started) * 1000
        self.stats.commits += 1
        self.stats.last_commit_ms = elapsed
        self.stats.total_commit_ms += elapsed
        self.stats.records_since_commit = 0
        return True

    async def _commit_task_transaction(self, task_id: str, task: Task) -> None:
        producer = self.producers[task_id]
        task.flush_caches()
        outputs = task.drain_output()
        changelogs = self._changelog_records(task)
        offsets = self._offsets_of(task)
        maybe_crash("commit:after_drain")
        if not outputs and not changelogs and not offsets:
            self._apply_stores(task, {})
            return
        try:
            await producer.begin()
            for record in outputs:
                producer.send(record)
            for _, records in changelogs:
                for record in records:
                    producer.send(record)
            maybe_crash("commit:after_produce")
            if offsets:
                await producer.send_offsets(self.config.application_id, offsets)
            written = await producer.commit()
        except ProducerFencedError as exc:
            raise TaskMigratedError(
                f"Task {task_id} was fenced by a newer worker; it will be closed and rejoined."
            ) from exc
        self.purge.committed(offsets)
        maybe_crash("commit:after_commit")
        self._apply_stores(task, written)
        maybe_crash("commit:after_apply")

    async def send_outputs(self) -> None:
        """at_least_once: hand processed records to the broker now, not at the next commit,
        so downstream sub-topologies and consumers see them within a poll loop. Store
        changes still wait for the commit, which keeps each store's offset exact."""
        producer = self.shared_producer
        if producer is None:
            producer = self.shared_producer = self.transport.producer()
        sent = False
        for task in self.tasks.values():
            if task.collector:
                for record in task.drain_output():
                    producer.send(record)
                sent = True
        if sent:
            # Not flush(): Kafka confirms these while the next batch is processed; the
            # commit's flush waits for them before any offset is committed.
            await producer.dispatch()

    async def _commit_at_least_once(self) -> None:
        producer = self.shared_producer
        if producer is None:
            producer = self.shared_producer = self.transport.producer()
        offsets: dict[TopicPartition, int] = {}
        for task in self.tasks.values():
            task.flush_caches()
            for record in task.drain_output():
                producer.send(record)
            for _, records in self._changelog_records(task):
                for record in records:
                    producer.send(record)
            offsets.update(self._offsets_of(task))
        maybe_crash("commit:after_produce")
        written = await producer.flush()
        maybe_crash("commit:after_flush")
        if offsets:
            await self.consumer.commit(offsets)
            self.purge.committed(offsets)
        maybe_crash("commit:after_commit")
        for task in self.tasks.values():
            self._apply_stores(task, written)
        maybe_crash("commit:after_apply")

    async def _close_migrated(self, task_ids: list[str], fenced: bool = False) -> None:
        """Close tasks whose commit the group refused (they belong to another worker now)
        without committing, and say so: their records since the last commit are
        reprocessed by the new owner (at_least_once) or were aborted (exactly_once)."""
        for task_id in task_ids:
            await self._close_task(task_id)
        self.consumer.request_rejoin()
        why = ("were fenced: another worker took them over while this one was stalled, so "
               "their open transactions are aborted;" if fenced else
               "moved to another worker before their commit;")
        raise TaskMigratedError(f"Tasks {sorted(task_ids)} {why} they were closed without "
                                "committing and this worker rejoins the group.")

    async def close(self, commit: bool = True) -> None:
        if commit:
            try:
                await self.commit(force=True)
            except TaskMigratedError as exc:
                log.warning("%s", exc)
        for task_id in list(self.tasks) + list(self.suspended):
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
        # Suspended and standby tasks keep their directories too (getattr: tests build a
        # bare manager for this method).
        kept = set(self.tasks) | set(getattr(self, "suspended", ()))
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
