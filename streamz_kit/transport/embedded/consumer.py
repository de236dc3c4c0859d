"""Consumer of the embedded broker: positions in memory, one SELECT per partition per poll.

Group membership: the embedded broker has one member per group. `subscribe` takes the
group's lock file at once (BrokerLockedError if another worker holds it) and checks the
topics (UnknownTopicError); the assignment, every partition of the topics, is handed to
`on_assigned` inside the next `poll`, as Kafka does, so the runtime sees one code path for
both brokers. There are no rebalances, so `on_revoked` is called only when `subscribe` is
called again with other topics; `close` releases the lock without calling it (the runtime
commits and closes its tasks before closing the consumer). With `leases` (the workers of
`run --workers N`) the members share the group through leases in the log instead, and
rebalance when one joins, leaves or its lease runs out (see leases.py).

A partition without a `seek` starts at the group's committed offset, else where
`auto_offset_reset` says: the log start offset (`earliest`, the default, as in Kafka
Streams), the end (`latest`), or nowhere (`none`: an error). A position that retention left
before the log start offset is reset the same way, with one warning line, as Kafka's
consumer does on OFFSET_OUT_OF_RANGE. Only committed records are ever in the log, so reads
are read_committed whatever `read_committed` says.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from itertools import repeat

from streamz_kit.errors import BrokerError
from streamz_kit.transport.embedded.batch_codec import Batch
from streamz_kit.transport.embedded.grouplock import GroupLock
from streamz_kit.transport.embedded.leases import INITIAL_JOIN_WAIT_S, GroupLeases, share
from streamz_kit.transport.embedded.log import Log, OffsetOutOfRange
from streamz_kit.transport.port import (
    ConsumedRecord,
    Consumer,
    RebalanceCallback,
    TopicPartition,
)

DEFAULT_MAX_RECORDS = 10_000  # per poll when the caller gives no bound, to cap memory
# How often an idle poll looks for new data (PRAGMA data_version, a few microseconds): every
# millisecond while the partitions went quiet only lately, so a record reaches a busy
# pipeline's next hop within ~1 ms; every 10 ms once they have been quiet for IDLE_AFTER_S,
# so an idle worker costs little CPU (about 9% of a core at 1 ms, 3% at 10 ms, measured).
WAIT_STEP_S = 0.001
IDLE_WAIT_STEP_S = 0.01
IDLE_AFTER_S = 0.25
JOIN_CHECK_S = 0.05  # heartbeat period while waiting for the other members at start
_new = tuple.__new__
_RECORD = repeat(ConsumedRecord)
_NO_HEADERS = repeat(())
RESETS = ("earliest", "latest", "none")
log = logging.getLogger("streamz_kit.embedded")


class EmbeddedConsumer(Consumer):
    def __init__(
        self,
        log: Log,
        group_id: str | None,
        auto_offset_reset: str = "earliest",
        leases: GroupLeases | None = None,
    ) -> None:
        if auto_offset_reset not in RESETS:
            raise BrokerError(
                f"auto_offset_reset must be 'earliest', 'latest' or 'none', not "
                f"{auto_offset_reset!r}."
            )
        self._log = log
        self.group_id = group_id
        self.auto_offset_reset = auto_offset_reset
        self._assigned: list[TopicPartition] = []
        self._assigned_set: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._manual = False
        self._lock: GroupLock | None = None
        # Several members (run --workers N): leases in the log instead of the lock file.
        self._leases = leases
        self._wanted: set[TopicPartition] = set()  # every partition of the subscription
        self._target: set[TopicPartition] = set()  # this member's share of them
        self._next_heartbeat = 0.0
        self._join_until = 0.0  # until then a first share waits for the expected members
        self._pending: tuple[set[TopicPartition], set[TopicPartition]] | None = None
        self._on_assigned: RebalanceCallback | None = None
        self._on_revoked: RebalanceCallback | None = None
        self._rr = 0
        self._quiet_since: float | None = None  # when polls last stopped finding records
        # per partition: (topic id, decoded records a fetch read but max_records cut off)
        self._rest: dict[TopicPartition, tuple[int, Batch]] = {}
        self._moved = False  # seek/assign/resume since the last fetch: look again
        self._closed = False

    # -- membership ------------------------------------------------------------------------
    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assigned: RebalanceCallback,
        on_revoked: RebalanceCallback,
    ) -> None:
        self._check_open()
        if self.group_id is None:
            raise BrokerError("subscribe() needs a consumer created with a group_id.")
        if self._manual:
            raise BrokerError("subscribe() after assign() is not allowed; use one or the other.")
        if self._leases is None:
            if self._lock is None:
                self._lock = GroupLock(self._log.path, self._log.groups_dir, self.group_id)
            self._lock.acquire()
        infos = {t: self._log.topic(t, refresh=True) for t in dict.fromkeys(topics)}
        missing = [t for t, info in infos.items() if info is None]
        if missing:
            if not self._assigned and self._lock is not None:
                self._lock.release()
            raise self._log.unknown_topics_error(missing)
        wanted = {
            TopicPartition(t, p)
            for t, info in infos.items()
            if info
            for p in range(info.partitions)
        }
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        if self._leases is not None:
            self._wanted = wanted
            self._leases.generation = -1
            self._join_until = time.monotonic() + INITIAL_JOIN_WAIT_S
            await self._heartbeat()
            return
        revoked = set(self._assigned) if self._assigned else set()
        self._pending = (revoked, wanted)
        self._on_assigned, self._on_revoked = on_assigned, on_revoked

    async def _heartbeat(self) -> None:
        """Renew this member's lease; on a new generation (or while part of its share is
        still held by a member that has not released it) plan a rebalance for the poll."""
        leases = self._leases
        assert leases is not None
        generation, members, held = await self._log.db.awrite(leases.heartbeat)
        now = time.monotonic()
        self._next_heartbeat = now + leases.heartbeat_s
        if generation != leases.generation:
            if len(members) < leases.expected and now < self._join_until:
                # Started with others (run --workers N): take nothing until they have
                # joined, or INITIAL_JOIN_WAIT_S passed (leases.py); look again shortly.
                self._next_heartbeat = now + JOIN_CHECK_S
                return
            leases.generation = generation
            self._target = share(members, leases.member_id, self._wanted)
            self._pending = (set(self._assigned), self._target)
        elif self._pending is None and not leases.free(self._target, held) <= self._assigned_set:
            # A partition of this member's share was released by its previous owner.
            self._pending = (set(self._assigned), self._target)

    async def _deliver_assignment(self) -> None:
        assert self._pending is not None
        revoked, assigned = self._pending
        self._pending = None
        if revoked and self._on_revoked is not None:
            await self._on_revoked(revoked)
        if self._leases is not None:
            leases, wanted = self._leases, set(assigned)
            assigned = await self._log.db.awrite(lambda c: leases.claim(c, wanted))
        self._set_assignment(assigned)
        if self._on_assigned is not None:
            await self._on_assigned(set(assigned))

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        self._check_open()
        if self._lock is not None and self._lock.held:
            raise BrokerError("assign() after subscribe() is not allowed; use one or the other.")
        self._manual = True
        self._set_assignment({TopicPartition(tp.topic, tp.partition) for tp in partitions})

    def _set_assignment(self, partitions: set[TopicPartition]) -> None:
        self._assigned = sorted(partitions)
        self._assigned_set = set(partitions)
        self._positions = {tp: o for tp, o in self._positions.items() if tp in partitions}
        self._rest = {tp: r for tp, r in self._rest.items() if tp in partitions}
        self._paused &= partitions
        self._moved = True

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    # -- positions -------------------------------------------------------------------------
    def seek(self, partition: TopicPartition, offset: int) -> None:
        tp = self._assigned_tp(partition, "seek()")
        if offset < 0:
            raise BrokerError(
                f"Cannot seek {tp.topic}[{tp.partition}] to negative offset {offset}."
            )
        self._positions[tp] = int(offset)
        self._moved = True

    def position(self, partition: TopicPartition) -> int:
        tp = self._assigned_tp(partition, "position()")
        pos = self._positions.get(tp)
        return pos if pos is not None else self._initial_position(tp)

    def _initial_position(self, tp: TopicPartition) -> int:
        if self.group_id is not None:
            committed = self._log.committed(self.group_id, [tp])
            if tp in committed:
                self._positions[tp] = committed[tp]
                return committed[tp]
        pos = self._reset_position(tp, None)
        self._positions[tp] = pos
        return pos

    def _reset_position(self, tp: TopicPartition, stale: int | None) -> int:
        """Where `auto_offset_reset` puts a partition with no valid position."""
        policy = self.auto_offset_reset
        if policy == "none":
            why = (
                f"position {stale} lies before its log start offset (retention deleted "
                "those records)"
                if stale is not None
                else "has no committed offset"
            )
            raise BrokerError(
                f"{tp.topic}[{tp.partition}] {why} and auto_offset_reset is 'none'; seek to "
                "an offset, or use auto_offset_reset='earliest' or 'latest'."
            )
        offset_of = self._log.earliest_offset if policy == "earliest" else self._log.end_offset
        return self._log.db.read(lambda c: offset_of(c, tp))

    def _out_of_range(self, tp: TopicPartition, stale: int, start: int) -> None:
        pos = self._reset_position(tp, stale)
        log.warning(
            "Position %d of %s[%d]%s lies before the log start offset %d (retention deleted "
            "those records); resetting to the %s offset %d (auto_offset_reset='%s').",
            stale,
            tp.topic,
            tp.partition,
            f" of group '{self.group_id}'" if self.group_id else "",
            start,
            self.auto_offset_reset,
            pos,
            self.auto_offset_reset,
        )
        self._positions[tp] = pos
        self._rest.pop(tp, None)
        self._moved = True

    def _assigned_tp(self, partition: TopicPartition, action: str) -> TopicPartition:
        tp = TopicPartition(partition.topic, partition.partition)
        if tp not in self._assigned_set:
            raise BrokerError(
                f"{action} on {tp.topic}[{tp.partition}], which is not assigned to this consumer."
            )
        return tp

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.update(TopicPartition(tp.topic, tp.partition) for tp in partitions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.difference_update(TopicPartition(tp.topic, tp.partition) for tp in partitions)
        self._moved = True

    # -- reading ---------------------------------------------------------------------------
    async def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumedRecord]]:
        self._check_open()
        if self._leases is not None and time.monotonic() >= self._next_heartbeat:
            await self._heartbeat()
        if self._pending is not None:
            await self._deliver_assignment()
        limit = max_records if max_records and max_records > 0 else DEFAULT_MAX_RECORDS
        deadline = time.monotonic() + max(timeout_ms, 0) / 1000
        await asyncio.sleep(0)  # a busy poll loop must still let other tasks run
        while True:
            token = self._log.db.change_token()
            self._moved = False
            batch = self._fetch(limit)
            if batch:
                self._quiet_since = None
                return batch
            if self._quiet_since is None:
                self._quiet_since = time.monotonic()
            while not self._moved and self._log.db.change_token() == token:
                now = time.monotonic()
                remaining = deadline - now
                if remaining <= 0:
                    return {}
                quiet = now - self._quiet_since < IDLE_AFTER_S
                step = WAIT_STEP_S if quiet else IDLE_WAIT_STEP_S
                await asyncio.sleep(min(step, remaining))
                if self._closed:
                    return {}
                if self._leases is not None and time.monotonic() >= self._next_heartbeat:
                    await self._heartbeat()
                if self._pending is not None:
                    await self._deliver_assignment()

    def _fetch(self, limit: int) -> dict[TopicPartition, list[ConsumedRecord]]:
        parts = [tp for tp in self._assigned if tp not in self._paused]
        out: dict[TopicPartition, list[ConsumedRecord]] = {}
        if not parts:
            return out
        n = len(parts)
        start = self._rr % n
        self._rr += 1  # rotate the starting partition so none starves under max_records
        ends = self._log.end_offsets_by_id() if n > 1 else None
        for i in range(n):
            tp = parts[(start + i) % n]
            info = self._log.topic(tp.topic)
            if info is None:
                continue
            pos = self._positions.get(tp)
            if pos is None:
                pos = self._initial_position(tp)
            if (
                ends is not None
                and tp not in self._rest
                and ends.get((info.id, tp.partition), pos + 1) <= pos
            ):
                continue  # nothing new there: skip its SELECT
            try:
                batches = self._take(tp, info.id, pos, limit)
            except OffsetOutOfRange as exc:
                self._out_of_range(tp, pos, exc.start_offset)
                continue
            if not batches:
                continue
            topic, partition = tp
            records: list[ConsumedRecord] = []
            for b in batches:
                # tuple.__new__ skips the namedtuple's Python-level __new__, and map/zip
                # build every record in C.
                records.extend(
                    map(
                        _new,
                        _RECORD,
                        zip(
                            repeat(topic),
                            repeat(partition),
                            b.offsets,
                            b.timestamps,
                            b.keys,
                            b.values,
                            _NO_HEADERS if b.headers is None else b.headers,
                        ),
                    )
                )
            out[tp] = records
            self._positions[tp] = records[-1].offset + 1
            limit -= len(records)
            if limit <= 0:
                break
        return out

    def _take(self, tp: TopicPartition, topic_id: int, pos: int, limit: int) -> list[Batch]:
        """Records from `pos`: first what is left of the batch the last fetch cut (if it
        starts at `pos`), then the log."""
        batches: list[Batch] = []
        rest = self._rest.pop(tp, None)
        if rest is not None and rest[0] == topic_id and rest[1].offsets[0] == pos:
            held = rest[1]
            if len(held.offsets) > limit:
                self._rest[tp] = (topic_id, held.cut(limit))
                return [held.cut(0, limit)]
            batches.append(held)
            limit -= len(held.offsets)
            pos = held.offsets[-1] + 1
            if limit <= 0:
                return batches
        fetched, cut = self._log.fetch(topic_id, tp.partition, pos, limit)
        batches.extend(fetched)
        if cut is not None:
            self._rest[tp] = (topic_id, cut)
        return batches

    # -- offsets ---------------------------------------------------------------------------
    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._check_open()
        group_id = self._require_group("commit()")
        offsets = dict(offsets)
        leases = self._leases

        def write(conn: sqlite3.Connection) -> None:
            if leases is not None:
                leases.check(conn, offsets)
            self._log.set_group_offsets(conn, group_id, offsets)

        await self._log.db.awrite(write)
        await self._log.cleaner.maybe_run()

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        return self._log.committed(self._require_group("committed()"), partitions)

    def _require_group(self, action: str) -> str:
        if self.group_id is None:
            raise BrokerError(f"{action} needs a consumer created with a group_id.")
        return self.group_id

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerError("This consumer is closed; create a new one.")

    def request_rejoin(self) -> None:
        """After a refused commit: take this member's share again at the next poll."""
        if self._leases is not None:
            self._leases.generation = -1
            self._next_heartbeat = 0.0

    async def close(self) -> None:
        self._closed = True
        if self._lock is not None:
            self._lock.release()
        if self._leases is not None and self._wanted:
            leases = self._leases
            self._wanted = set()
            await self._log.db.awrite(leases.leave)
        self._set_assignment(set())
