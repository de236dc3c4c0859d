"""When retention runs on the embedded log, and giving freed space back.

The embedded broker has no server process, so the processes that write to the log do the
broker's housekeeping, as they already do compaction: after a producer's flush or commit, or
a consumer's offset commit, at most once per check interval (Kafka's broker setting
`log.retention.check.interval.ms`, 5 minutes by default; here the environment variable
`STREAMZ_LOG_RETENTION_CHECK_INTERVAL_MS`, read when the log is opened). The first check
comes one interval after the process opened the log, as Kafka waits before its first one.
Several processes may check the same log: each deletion is its own short write
transaction and deleting what is already gone deletes nothing, so they cannot conflict.

Each partition is one transaction (retention.enforce), then free pages are handed back in
transactions of at most RECLAIM_PAGES pages (retention.reclaim), then a passive checkpoint
lets the file shrink. A crash at any point leaves a consistent log: a transaction that did
not commit deleted nothing, and a vacuum that did not commit moved nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from streamz_kit.errors import BrokerError, ConfigError
from streamz_kit.transport.embedded.db import Database
from streamz_kit.transport.embedded.retention import (
    RECLAIM_PAGES,
    Removed,
    Retention,
    delete_before,
    enforce,
    purge_step,
    purge_target,
    reclaim,
    retention_of,
)
from streamz_kit.transport.port import TopicPartition


class _Log(Protocol):
    """What the cleaner needs of log.Log (a protocol: log.py imports this module)."""

    db: Database

    def decode(self, *args: Any, **kwargs: Any) -> Any: ...

    def require(self, conn: sqlite3.Connection, tp: TopicPartition) -> Any: ...


class _Topic(NamedTuple):
    id: int
    name: str
    partitions: int
    config: dict[str, str]


ENV_CHECK_MS = "STREAMZ_LOG_RETENTION_CHECK_INTERVAL_MS"
DEFAULT_CHECK_MS = 300_000  # Kafka's log.retention.check.interval.ms
MAX_RECLAIM_ROUNDS = 2048  # per cleanup: at most 4 GiB handed back before the next check
# Between two vacuum transactions: lets this process's own work and other processes' writes
# (their busy handlers retry every few ms) take the lock, so a large reclaim never holds it long.
RECLAIM_PAUSE_S = 0.01
# DeleteRecords deletes at most this many batches per transaction (a few ms each).
PURGE_BATCHES = 256

log = logging.getLogger("streamz_kit.embedded")


def check_interval_s() -> float:
    text = os.environ.get(ENV_CHECK_MS, "").strip()
    if not text:
        return DEFAULT_CHECK_MS / 1000
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigError(
            f"{ENV_CHECK_MS} must be a positive whole number of milliseconds, not {text!r}."
        )
    return value / 1000


class CleanupResult(NamedTuple):
    records: int
    batches: int
    bytes: int
    pages_reclaimed: int


class LogCleaner:
    def __init__(self, log_: _Log) -> None:
        self._log = log_
        self.interval_s = check_interval_s()
        self._next_check = time.monotonic() + self.interval_s
        self.last: CleanupResult | None = None

    async def maybe_run(self) -> None:
        """Run retention if a check interval has passed since the last one."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.interval_s
        await self.run()

    async def run(self, now_ms: int | None = None) -> CleanupResult:
        """Apply time and size retention to every partition now, then give space back."""
        db = self._log.db
        topics = db.read(_topics_with_retention)
        records = batches = freed = 0
        for info in topics:
            policy = retention_of(info.config)
            for partition in range(info.partitions):
                removed = await db.awrite(
                    functools.partial(
                        self._enforce,
                        topic_id=info.id,
                        partition=partition,
                        policy=policy,
                        now_ms=now_ms,
                    )
                )
                if removed.batches:
                    log.info(
                        "Retention deleted %d records (%d batches, %d bytes) of %s[%d]; its "
                        "log start offset is now %d.",
                        removed.records,
                        removed.batches,
                        removed.bytes,
                        info.name,
                        partition,
                        removed.start_offset,
                    )
                records += removed.records
                batches += removed.batches
                freed += removed.bytes
                await asyncio.sleep(0)  # one partition per write transaction, then others' turn
        pages = await self.reclaim()
        self.last = CleanupResult(records, batches, freed, pages)
        return self.last

    def _enforce(
        self,
        conn: sqlite3.Connection,
        *,
        topic_id: int,
        partition: int,
        policy: Retention,
        now_ms: int | None,
    ) -> Removed:
        stamp = int(time.time() * 1000) if now_ms is None else now_ms
        return enforce(conn, topic_id, partition, policy, stamp, self._log.decode)

    async def reclaim(self) -> int:
        """Hand free pages back to the file system, a bounded transaction at a time."""
        db = self._log.db
        total = 0
        for _ in range(MAX_RECLAIM_ROUNDS):
            pages = await db.awrite(reclaim)
            total += pages
            if pages < RECLAIM_PAGES:
                break
            await asyncio.sleep(RECLAIM_PAUSE_S)
        if total:
            db.read(lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        return total

    async def delete_records(
        self, offsets: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Kafka's DeleteRecords: records before each offset go; returns each partition's new
        log start offset. Every partition is checked first (refused on a topic whose
        cleanup.policy lacks `delete`, as Kafka refuses it, and then nothing is deleted);
        then transactions of at most PURGE_BATCHES batches, yielding between them: deleting
        the 30 s of a busy repartition topic (Kafka Streams' purge interval) in one
        transaction held the writing process's event loop for most of a second. A crash
        between two leaves a partition's start offset part of the way, which is what a
        smaller deletion means."""
        wanted = {TopicPartition(tp.topic, tp.partition): int(o) for tp, o in offsets.items()}
        if not wanted:
            return {}
        log_ = self._log

        def check(conn: sqlite3.Connection) -> dict[TopicPartition, tuple[int, int]]:
            targets: dict[TopicPartition, tuple[int, int]] = {}
            for tp, offset in wanted.items():
                info = log_.require(conn, tp)
                if not retention_of(info.config).delete:
                    raise BrokerError(
                        f"Records of {tp.topic}[{tp.partition}] cannot be deleted: the "
                        f"topic's cleanup.policy is {info.config.get('cleanup.policy')!r}. "
                        "Add 'delete' to it (compact,delete) to allow deleting records."
                    )
                try:
                    targets[tp] = (info.id, purge_target(conn, info.id, tp.partition, offset))
                except BrokerError as exc:
                    raise BrokerError(f"{tp.topic}[{tp.partition}]: {exc}") from None
            return targets

        targets = log_.db.read(check)
        result: dict[TopicPartition, int] = {}
        for tp, (topic_id, target) in targets.items():
            where = f"{tp.topic}[{tp.partition}]"

            def step(
                conn: sqlite3.Connection,
                topic_id: int = topic_id,
                partition: int = tp.partition,
                target: int = target,
                where: str = where,
            ) -> tuple[int, bool]:
                to = purge_step(conn, topic_id, partition, target, PURGE_BATCHES)
                return delete_before(conn, topic_id, partition, to, where), to == target

            done = False
            while not done:
                result[tp], done = await log_.db.awrite(step)
                await asyncio.sleep(0)
        await self.reclaim()
        return result


def _topics_with_retention(conn: sqlite3.Connection) -> list[_Topic]:
    out = []
    for tid, name, partitions, config in conn.execute(
        "SELECT id, name, partitions, config FROM topics ORDER BY name"
    ):
        info = _Topic(tid, name, partitions, json.loads(config))
        policy = retention_of(info.config)
        if policy.delete and (policy.ms >= 0 or policy.bytes >= 0):
            out.append(info)
    return out
