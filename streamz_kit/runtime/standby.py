"""Standby tasks: warm copies of other workers' stores, kept by tailing their changelogs.

Why: when a worker dies, the worker that takes its tasks over must rebuild their stores
from the changelogs before processing; with a standby copy it already holds the state up
to a recent offset and restores only the tail.

Which tasks: the group leader's assignor hands every worker a set of standby partition
indices (each index to up to `num_standby_replicas` workers other than its owner, see
`runtime/assignor.py`); a standby task exists here for every sub-topology with logged
stores and every such index that is not active here. Standby stores live in the same
task directories as active ones, so promotion hands the open stores to the new active
task (`take`) and the restore reads from the offset they reached.

Each standby task's stores belong to a `StateManager`, whose restore targets take the
changelog records straight into the bytes store (one write batch per fetched batch,
carrying the next offset), read by one group-less consumer in assign mode, polled without
waiting from the worker loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from streamz_kit.config import AppConfig
from streamz_kit.runtime.metadata import TopologyMetadata
from streamz_kit.runtime.task import task_id_of
from streamz_kit.state.manager import ChangelogTarget, StateManager
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Consumer, TopicPartition, Transport

log = logging.getLogger("streamz_kit.standby")


class StandbyTasks:
    def __init__(
        self,
        topology: Topology,
        config: AppConfig,
        transport: Transport,
        meta: TopologyMetadata,
        indices: Callable[[], set[int]],
    ) -> None:
        self.topology = topology
        self.config = config
        self.transport = transport
        self.meta = meta
        self.indices = indices
        self.states: dict[str, StateManager] = {}  # task id -> its standby stores
        self._by_tp: dict[TopicPartition, ChangelogTarget] = {}
        self._consumer: Consumer | None = None
        self._reassign = False
        self.records_applied = 0

    @property
    def task_ids(self) -> set[str]:
        return set(self.states)

    def _wanted(self, active: set[str]) -> dict[str, tuple[int, int]]:
        wanted: dict[str, tuple[int, int]] = {}
        indices = self.indices()
        for sub in self.topology.subtopologies:
            if not any(self._logged(name) for name in sub.stores):
                continue
            width = self.meta.task_partitions.get(sub.id, 1)
            for p in indices:
                task_id = task_id_of(sub.id, p)
                if p < width and task_id not in active:
                    wanted[task_id] = (sub.id, p)
        return wanted

    def _logged(self, name: str) -> bool:
        if name in self.topology.graph.global_stores:
            return False
        return bool(self.topology.store_builder(name).logging)

    def update(self, active: set[str]) -> None:
        """Close standbys no longer wanted (or now active) and open the new ones."""
        wanted = self._wanted(active)
        for task_id in [t for t in self.states if t not in wanted]:
            self._close(task_id)
        for task_id, (sub_id, partition) in sorted(wanted.items()):
            if task_id in self.states:
                continue
            task_dir = self.config.app_state_dir / task_id
            state = StateManager(task_id, partition, self.config.changelog_topic)
            self.states[task_id] = state
            for name in self.topology.subtopologies[sub_id].stores:
                if self._logged(name):
                    builder = self.topology.store_builder(name)
                    state.register(name, builder.build(task_dir, self.config.rocksdb_options))
            for target in state.restore_targets():
                self._by_tp[target.partition] = target
            self._reassign = True
        if wanted or self.states:
            log.info("Standby tasks: %s", sorted(self.states))

    def take(self, task_id: str) -> StateManager | None:
        """Hand a standby's open stores to the task becoming active here."""
        state = self.states.pop(task_id, None)
        if state is None:
            return None
        for target in state.restore_targets():
            self._by_tp.pop(target.partition, None)
        self._reassign = True
        return state

    def _close(self, task_id: str) -> None:
        state = self.take(task_id)
        if state is not None:
            state.close()

    async def poll(self) -> int:
        """Apply whatever changelog records are ready, without waiting for more."""
        if self._reassign:
            self._assign()
        if not self._by_tp or self._consumer is None:
            return 0
        batch = await self._consumer.poll(timeout_ms=0, max_records=20_000)
        got = 0
        for tp, records in batch.items():
            target = self._by_tp.get(tp)
            if target is not None and records:
                target.restore(records)
                got += len(records)
        self.records_applied += got
        return got

    def _assign(self) -> None:
        """Point the consumer at every standby changelog partition, each from its store's
        offset (reassigning forgets positions, and the stores know exactly where they are)."""
        self._reassign = False
        if self._consumer is None:
            if not self._by_tp:
                return
            self._consumer = self.transport.consumer(
                group_id=None, client_id=f"{self.config.application_id}-standby"
            )
        self._consumer.assign(list(self._by_tp))
        for tp, target in self._by_tp.items():
            offset = target.next_offset()
            self._consumer.seek(tp, 0 if offset is None else offset)

    async def close(self) -> None:
        for task_id in list(self.states):
            self._close(task_id)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.close()


__all__ = ["StandbyTasks"]
