"""Creating, restoring, committing and closing the tasks this worker owns.

Commit, in numbered steps (Kafka Streams' order, with Quix's store-after-commit refinement):
1. drain each task's output records and each logged store's pending changes;
2. produce them (changelog records go to the task's partition of `<app>-<store>-changelog`);
3. make them durable with the input offsets: under exactly_once one transaction per task
   (records + offsets), under at_least_once flush then commit the offsets;
4. write each store's changes and the changelog offset they reflect in one write batch.
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
from streamz_kit.errors import ProducerFencedError, TaskMigratedError
from streamz_kit.runtime.metadata import TopologyMetadata
from streamz_kit.runtime.restore import RestoreTarget, restore
from streamz_kit.runtime.task import Task, task_id_of
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Consumer, Producer, ProducerRecord, TopicPartition, Transport

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

    # -- assignment --------------------------------------------------------------------------
    def _task_partitions(self, tps: set[TopicPartition]) -> dict[tuple[int, int], list[TopicPartition]]:
        wanted: dict[tuple[int, int], list[TopicPartition]] = {}
        prefix = f"{self.config.application_id}-"
        for tp in tps:
            topic = tp.topic
            plain = topic[len(prefix):] if topic.startswith(prefix) else topic
            sub = self.topology.subtopology_for_topic(plain) or self.topology.subtopology_for_topic(
                topic
            )
            if sub is None:
                continue
            wanted.setdefault((sub.id, tp.partition), []).append(tp)
        return wanted

    async def on_assigned(self, tps: set[TopicPartition]) -> None:
        wanted = self._task_partitions(tps)
        for (sub_id, partition), partitions in sorted(wanted.items()):
            task_id = task_id_of(sub_id, partition)
            if task_id in self.tasks:
                task = self.tasks[task_id]
            else:
                task = await self._create_task(sub_id, partition)
            for tp in partitions:
                self.task_by_tp[tp] = task
        log.info(
            "Assigned %d partitions; running tasks %s", len(tps), sorted(self.tasks)
        )

    async def on_revoked(self, tps: set[TopicPartition]) -> None:
        if not tps:
            return
        await self.commit(force=True)
        gone = {task.task_id for tp, task in self.task_by_tp.items() if tp in tps}
        for task_id in gone:
            await self._close_task(task_id)
        log.info("Revoked %d partitions; closed tasks %s", len(tps), sorted(gone))

    async def _create_task(self, sub_id: int, partition: int) -> Task:
        sub = self.topology.subtopologies[sub_id]
        task_id = task_id_of(sub_id, partition)
        task_dir = self.config.app_state_dir / task_id
        stores: dict[str, Any] = dict(self.global_stores)
        targets: list[RestoreTarget] = []
        for name in sub.stores:
            builder = self.topology.store_builder(name)
            store = builder.build(task_dir, self.config.rocksdb_options)
            stores[name] = store
            if builder.logging:
                tp = TopicPartition(self.config.changelog_topic(name), partition)
                targets.append(RestoreTarget(store, tp))
        self.restoring.add(task_id)
        try:
            result = await restore(self.transport, targets, f"task {task_id}")
        finally:
            self.restoring.discard(task_id)
        self.stats.restored_records += result.records
        self.stats.restore_seconds += result.seconds
        self.stats.per_task_restored[task_id] = result.records
        task = Task(
            topology=self.topology,
            subtopology=sub,
            partition=partition,
            application_id=self.config.application_id,
            stores=stores,
            partition_count=self.meta.count,
            cache_max_entries=self.config.cache_max_entries,
            handlers=self.config.handlers,
            max_record_bytes=self.config.max_record_bytes,
        )
        self.tasks[task_id] = task
        if self.config.exactly_once:
            producer = self.transport.producer(
                transactional_id=f"{self.config.application_id}-{task_id}"
            )
            self.producers[task_id] = producer
        return task

    async def _close_task(self, task_id: str) -> None:
        task = self.tasks.pop(task_id, None)
        if task is None:
            return
        for tp in [tp for tp, t in self.task_by_tp.items() if t is task]:
            del self.task_by_tp[tp]
        for name, store in task.stores.items():
            if name in self.global_stores:
                continue
            store.close()
        for node in task.nodes.values():
            node.close()
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
            out.append(
                (store, [ProducerRecord(topic, task.partition, k, v, ts) for k, v in changes])
            )
        return out

    def _apply_stores(self, task: Task, offsets: dict[TopicPartition, int]) -> None:
        for name in task.subtopology.stores:
            store = task.stores[name]
            if not store.buffer.has_pending():
                continue
            last = offsets.get(TopicPartition(self.config.changelog_topic(name), task.partition))
            store.buffer.apply_pending(None if last is None else last + 1)

    def _offsets_of(self, task: Task) -> dict[TopicPartition, int]:
        offsets = {TopicPartition(t, p): o for (t, p), o in task.consumed_offsets.items()}
        task.consumed_offsets.clear()
        return offsets

    async def commit(self, force: bool = False) -> bool:
        if not self.tasks:
            return False
        started = time.perf_counter()
        if self.config.exactly_once:
            for task_id, task in list(self.tasks.items()):
                await self._commit_task_transaction(task_id, task)
        else:
            await self._commit_at_least_once()
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
            if offsets:
                await producer.send_offsets(self.config.application_id, offsets)
            written = await producer.commit()
        except ProducerFencedError as exc:
            raise TaskMigratedError(
                f"Task {task_id} was fenced by a newer worker; it will be closed and rejoined."
            ) from exc
        self._apply_stores(task, written)

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
            await producer.flush()

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
        written = await producer.flush()
        if offsets:
            await self.consumer.commit(offsets)
        for task in self.tasks.values():
            self._apply_stores(task, written)

    async def close(self, commit: bool = True) -> None:
        if commit:
            await self.commit(force=True)
        for task_id in list(self.tasks):
            await self._close_task(task_id)
        if self.shared_producer is not None:
            await self.shared_producer.close()
            self.shared_producer = None

    def clean_stale_state(self, now: float | None = None) -> list[str]:
        """Delete state directories of tasks this worker does not run, once they are older
        than `state_cleanup_delay_ms` (a task that moved away may come back soon)."""
        root = self.config.app_state_dir
        if not root.is_dir():
            return []
        now = time.time() if now is None else now
        delay = self.config.state_cleanup_delay_ms / 1000
        removed = []
        for entry in root.iterdir():
            if not entry.is_dir() or entry.name in self.tasks or entry.name == "global":
                continue
            if "_" not in entry.name or now - entry.stat().st_mtime < delay:
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
        if removed:
            log.info("Removed state of tasks no longer assigned here: %s", sorted(removed))
        return removed
