"""Consumer lag per input partition: end offset minus the worker's position.

Refreshed by the App's observability loop every few seconds, never on the processing path.
On Tansu the listed end offset can fall short of the real one (DESIGN.md), so lag is
clamped at zero there rather than trusted to the record.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from streamz_kit.transport.port import TopicPartition

log = logging.getLogger("streamz_kit.observability")


class LagTracker:
    def __init__(self) -> None:
        self.lag: dict[TopicPartition, int] = {}
        self.end_offsets: dict[TopicPartition, int] = {}
        self.positions: dict[TopicPartition, int] = {}
        self.refreshed_at = 0.0
        self._admin: Any = None
        self._warned = False

    async def refresh(self, worker: Any) -> None:
        """Ask the broker for the end offsets of the partitions this worker consumes."""
        tasks = getattr(worker, "tasks", None)
        consumer = getattr(worker, "consumer", None)
        transport = getattr(worker, "transport", None)
        if tasks is None or consumer is None or transport is None:
            self.lag = {}
            return
        tps = sorted(tasks.task_by_tp)
        if not tps:
            self.lag, self.end_offsets, self.positions = {}, {}, {}
            self.refreshed_at = time.time()
            return
        if self._admin is None:
            self._admin = transport.admin()
        try:
            ends = await self._admin.list_offsets(tps, "latest")
        except Exception as exc:  # a slow or lost broker must not stop the worker
            if not self._warned:
                log.warning("Could not read end offsets for lag metrics: %s", exc)
                self._warned = True
            return
        self._warned = False
        lag: dict[TopicPartition, int] = {}
        positions: dict[TopicPartition, int] = {}
        for tp in tps:
            try:
                position = consumer.position(tp)
            except Exception:  # not fetched yet, or just revoked
                continue
            positions[tp] = position
            lag[tp] = max(ends.get(tp, 0) - position, 0)
        self.lag, self.end_offsets, self.positions = lag, dict(ends), positions
        self.refreshed_at = time.time()

    def stale_for(self, worker: Any) -> bool:
        """True when the worker's partitions changed since the last refresh (a rebalance)."""
        tasks = getattr(worker, "tasks", None)
        return tasks is not None and set(tasks.task_by_tp) != set(self.positions)

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                await admin.close()
            except Exception:  # the transport may already be closed
                pass

    @property
    def total(self) -> int:
        return sum(self.lag.values())
