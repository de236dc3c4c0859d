"""Commit step 5: delete repartition records the application has committed past.

Kafka Streams does this after a commit, at most every `repartition.purge.interval.ms`
(30 s by default): it calls the admin client's deleteRecords with each repartition
partition's committed offset, so repartition topics hold only records still in flight
instead of every record ever re-keyed. Only offsets whose commit succeeded are purged, and
only up to them: a crash before, during or after the purge loses nothing, because every
record the purge deletes is one the group has already committed past. A failed purge is
logged (once until a purge succeeds again: a broker without DeleteRecords, such as Tansu,
would otherwise warn every interval) and retried at the next interval, as Kafka Streams
does; it never fails a commit.

The deletion runs beside the worker loop (an asyncio task), not inside the commit: on the
embedded log, 30 s of repartition records took a commit 0.7-1.2 s to delete and vacuum, every
record arriving meanwhile waiting for it. One purge runs at a time; offsets committed while
it runs are purged by the next.
"""

from __future__ import annotations

import asyncio
import logging
import time

from streamz_kit.config import AppConfig
from streamz_kit.errors import StreamzError
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Admin, TopicPartition, Transport

log = logging.getLogger("streamz_kit.tasks")


class RepartitionPurge:
    def __init__(self, transport: Transport, topics: set[str], interval_ms: int) -> None:
        self._transport = transport
        self._topics = topics
        self._interval_s = interval_ms / 1000
        self._next = time.monotonic() + self._interval_s
        self._pending: dict[TopicPartition, int] = {}
        self._admin: Admin | None = None
        self.purged = 0  # delete_records calls made (tests and metrics)
        self._failing = False
        self._running: asyncio.Future[None] | None = None

    @classmethod
    def of(cls, transport: Transport, topology: Topology, config: AppConfig) -> RepartitionPurge:
        """The purge of this application's repartition topics."""
        topics = {config.internal_topic(t) for t in topology.graph.repartition_topics}
        return cls(transport, topics, config.repartition_purge_interval_ms)

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        """Note offsets whose commit has succeeded; only repartition topics are kept."""
        if not self._topics:
            return
        for tp, offset in offsets.items():
            if tp.topic in self._topics:
                self._pending[tp] = offset

    async def maybe_purge(self) -> None:
        """Start deleting records before the noted offsets once the purge interval has passed
        (and the previous purge finished); raises what a previous purge raised other than a
        broker error (those are logged and retried)."""
        running = self._running
        if running is not None:
            if not running.done():
                return
            self._running = None
            running.result()
        if not self._pending or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self._interval_s
        pending, self._pending = self._pending, {}
        if self._admin is None:
            self._admin = self._transport.admin()
        self._running = asyncio.ensure_future(self._purge(self._admin, pending))

    async def settle(self) -> None:
        """Wait for the purge in progress, if any (close, tests)."""
        running, self._running = self._running, None
        if running is not None:
            await running

    async def _purge(self, admin: Admin, pending: dict[TopicPartition, int]) -> None:
        try:
            await admin.delete_records(pending)
            self.purged += 1
            self._failing = False
        except StreamzError as exc:
            for tp, offset in pending.items():  # retried next time unless a newer one came
                self._pending.setdefault(tp, offset)
            level = logging.DEBUG if self._failing else logging.WARNING
            self._failing = True
            log.log(
                level,
                "Purging committed repartition records failed (%s); they stay "
                "until a later purge succeeds.",
                exc,
            )

    async def close(self) -> None:
        try:
            await self.settle()
        finally:
            admin, self._admin = self._admin, None
            if admin is not None:
                await admin.close()
