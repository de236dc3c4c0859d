"""`Consumer` on aiokafka's AIOKafkaConsumer.

Two things differ from using aiokafka directly, both on purpose:

- The aiokafka client is created and started lazily, at the first awaited call, because the
  port's `assign` / `seek` / `pause` are synchronous. Seeks and pauses made before that are
  remembered and applied once the client runs.
- Rebalance callbacks run *inside `poll()`*, as the port promises. aiokafka calls its
  listener from a background task; our listener parks the call until the next `poll()`
  services it, so the runtime never sees a rebalance in the middle of its own awaits
  (e.g. half-way through a commit). Records fetched before a revocation serviced in the
  same poll are dropped (their new owner reads them again from the committed offset);
  records fetched after a rebalance completed are the new assignment's and are kept.

aiokafka speaks the eager rebalance protocol: on every rebalance all of a member's
partitions are revoked, then the new assignment is handed out. `on_revoked` is called
with a non-empty set only; `on_assigned` is called after every completed join (possibly
with an empty set, which tells the runtime it owns nothing). `close()` calls neither: the
runtime commits and closes its tasks before it closes the consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from aiokafka.structs import TopicPartition as KTP

from streamz_kit.errors import BrokerError, TaskMigratedError, UnknownTopicError
from streamz_kit.transport.kafka._client import KafkaSettings, broker_error, start_client
from streamz_kit.transport.kafka.admin import KafkaAdmin
from streamz_kit.transport.kafka.cooperative import CooperativeState, install
from streamz_kit.transport.kafka.records import INSTALLED as CONSUMED_BY_AIOKAFKA
from streamz_kit.transport.kafka.records import as_consumed
from streamz_kit.transport.port import (
    ConsumedRecord,
    Consumer,
    RebalanceCallback,
    TopicPartition,
)

_new = tuple.__new__
_ROUND_WAIT_S = 60.0  # longest a commit waits for a cooperative round to end

_MIGRATED = (
    CommitFailedError,
    IllegalGenerationError,
    UnknownMemberIdError,
    RebalanceInProgressError,
)


def _leave_even_in_generation_zero(client: AIOKafkaConsumer) -> None:
    """Make aiokafka send LeaveGroup on stop when the broker numbered the generation 0.

    aiokafka leaves a group on stop only when `generation > 0` (Kafka starts at 1); Tansu
    starts at 0, so without this a closed member stays listed in the group forever and
    `group_is_active` never turns False. Static members (group_instance_id) keep their
    no-leave behaviour.
    """
    coordinator = getattr(client, "_coordinator", None)
    if (
        coordinator is not None
        and getattr(coordinator, "generation", None) == 0
        and getattr(coordinator, "member_id", "")
        and getattr(coordinator, "_group_instance_id", None) is None
    ):
        coordinator.generation = 1  # only read by _maybe_leave_group from here on


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands aiokafka's rebalance events to `poll()` and waits until they have been handled."""

    def __init__(self, owner: KafkaConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        parts = {TopicPartition(tp.topic, tp.partition) for tp in revoked}
        if parts:
            await self._owner._park("revoked", parts)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        # aiokafka starts heartbeating only after this callback returns, and the runtime
        # restores state in it: a restore longer than session_timeout_ms would get the
        # member expelled (and the group rebalanced again) right after it joined. The group
        # is stable here, so heartbeats are valid; Kafka's own client sends them meanwhile.
        coordinator = getattr(self._owner._client, "_coordinator", None)
        start_heartbeat = getattr(coordinator, "_start_heartbeat_task", None)
        if start_heartbeat is not None:
            start_heartbeat()
        await self._owner._park(
            "assigned", {TopicPartition(tp.topic, tp.partition) for tp in assigned}
        )


class KafkaConsumer(Consumer):
    def __init__(
        self,
        settings: KafkaSettings,
        admin: KafkaAdmin,
        *,
        group_id: str | None,
        client_id: str,
        read_committed: bool,
    ) -> None:
        self._settings = settings
        self._admin = admin
        self.group_id = group_id
        self._kwargs = settings.consumer_kwargs(
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if read_committed else "read_uncommitted",
            # marks this consumer's fetches: aiokafka builds ConsumedRecords (records.py)
            **({"key_deserializer": as_consumed} if CONSUMED_BY_AIOKAFKA else {}),
        )
        self._client: AIOKafkaConsumer | None = None
        self._assigned: set[TopicPartition] = set()
        self._subscribed = False
        self._pending_seeks: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._on_assigned: RebalanceCallback | None = None
        self._on_revoked: RebalanceCallback | None = None
        self._parked: list[tuple[str, set[TopicPartition], asyncio.Future[None]]] = []
        self._parked_event = asyncio.Event()
        self._closing = False
        self._cooperative = (
            CooperativeState() if settings.rebalance_protocol == "cooperative" else None
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def _started(self) -> AIOKafkaConsumer:
        if self._closing:
            raise BrokerError("This Kafka consumer is closed; create a new one.")
        if self._client is None:
            client = await start_client(
                self._settings,
                lambda: AIOKafkaConsumer(**self._kwargs),
                lambda c: c.start(),
                lambda c: c.stop(),
                "consumer",
            )
            if self._assigned and not self._subscribed:
                client.assign([KTP(*tp) for tp in self._assigned])
            self._client = client
            for tp, offset in self._pending_seeks.items():
                client.seek(KTP(*tp), offset)
            self._pending_seeks.clear()
            if self._paused:
                client.pause(*(KTP(*tp) for tp in self._paused))
        return self._client

    async def close(self) -> None:
        self._closing = True
        self._release_parked()
        client, self._client = self._client, None
        if client is not None:
            _leave_even_in_generation_zero(client)
            await client.stop()

    # -- group membership --------------------------------------------------------------

    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assigned: RebalanceCallback,
        on_revoked: RebalanceCallback,
    ) -> None:
        if self.group_id is None:
            raise BrokerError("subscribe() needs a consumer created with a group_id.")
        found = await self._admin.partition_counts(topics)
        missing = sorted(set(topics) - set(found))
        if missing:
            raise UnknownTopicError(
                f"Input topic(s) {', '.join(missing)} do not exist on Kafka at "
                f"{self._settings.bootstrap_servers}; create them (with the partition count "
                "you want) before starting the application."
            )
        self._on_assigned, self._on_revoked = on_assigned, on_revoked
        client = await self._started()
        if self._cooperative is not None:
            install(client, self._cooperative)
        self._subscribed = True
        client.subscribe(topics=list(topics), listener=_Listener(self))

    async def _park(self, kind: str, parts: set[TopicPartition]) -> None:
        if self._closing:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked.append((kind, parts, future))
        self._parked_event.set()
        await future

    async def _service_rebalance(self) -> set[TopicPartition]:
        """Run parked rebalance callbacks in order; returns the partitions revoked."""
        revoked: set[TopicPartition] = set()
        self._parked_event.clear()
        while self._parked:
            kind, parts, future = self._parked.pop(0)
            try:
                if kind == "revoked":
                    revoked |= parts
                    if self._on_revoked is not None:
                        await self._on_revoked(parts)
                elif self._on_assigned is not None:
                    await self._on_assigned(parts)
            finally:
                if not future.done():
                    future.set_result(None)
        return revoked

    def _release_parked(self) -> None:
        for _kind, _parts, future in self._parked:
            if not future.done():
                future.set_result(None)
        self._parked.clear()
        self._parked_event.clear()

    # -- partitions and positions ------------------------------------------------------

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        if self._subscribed:
            raise BrokerError("assign() cannot be used on a consumer that subscribed to a group.")
        self._assigned = {TopicPartition(*tp) for tp in partitions}
        self._pending_seeks = {
            tp: o for tp, o in self._pending_seeks.items() if tp in self._assigned
        }
        self._paused &= self._assigned
        if self._client is not None:
            self._client.assign([KTP(*tp) for tp in self._assigned])

    def assignment(self) -> set[TopicPartition]:
        if self._subscribed and self._client is not None:
            return {TopicPartition(tp.topic, tp.partition) for tp in self._client.assignment()}
        return set(self._assigned)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if self._client is None:
            self._pending_seeks[TopicPartition(*partition)] = offset
        else:
            self._client.seek(KTP(*partition), offset)

    def position(self, partition: TopicPartition) -> int:
        tp = TopicPartition(*partition)
        if tp in self._pending_seeks:
            return self._pending_seeks[tp]
        if self._client is not None:
            # aiokafka's own position() is async; its assignment state is the same number.
            assignment = self._client._subscription.subscription
            state = assignment.assignment.state_value(KTP(*tp)) if assignment else None
            if state is not None and state.has_valid_position:
                return int(state.position)
        raise BrokerError(
            f"The position of {tp.topic}[{tp.partition}] is not known yet; seek() it or "
            "poll() once before asking."
        )

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        parts = {TopicPartition(*tp) for tp in partitions}
        self._paused |= parts
        if self._client is not None:
            self._client.pause(*(KTP(*tp) for tp in parts))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        parts = {TopicPartition(*tp) for tp in partitions}
        self._paused -= parts
        if self._client is not None:
            self._client.resume(*(KTP(*tp) for tp in parts))

    # -- reading -----------------------------------------------------------------------

    async def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumedRecord]]:
        client = await self._started()
        # Callbacks parked before (or while waiting for) the fetch run first; the records a
        # fetch then returns belong to the assignment in force after them, so they are
        # kept. Only a revocation that arrives after the fetch drops its records.
        await self._service_rebalance()
        try:
            if self._subscribed:
                fetched = await self._fetch_in_group(client, timeout_ms, max_records)
            else:
                fetched = await client.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except KafkaError as exc:
            raise broker_error(exc, "fetch records") from exc
        revoked = await self._service_rebalance()
        out: dict[TopicPartition, list[ConsumedRecord]] = {}
        for ktp, records in fetched.items():
            tp = TopicPartition(ktp.topic, ktp.partition)
            if tp in revoked or not records:
                continue
            if type(records[0]) is ConsumedRecord:  # built by aiokafka (records.py)
                out[tp] = records
                continue
            topic, partition = tp
            # tuple.__new__ skips the namedtuple's Python-level __new__ (3x faster a record)
            out[tp] = [
                _new(
                    ConsumedRecord,
                    (
                        topic,
                        partition,
                        r.offset,
                        r.timestamp,
                        r.key,
                        r.value,
                        r.headers if type(r.headers) is tuple else tuple(r.headers),
                    ),
                )
                for r in records
            ]
        return out

    async def _fetch_in_group(
        self,
        client: AIOKafkaConsumer,
        timeout_ms: int,
        max_records: int | None,
    ) -> dict[Any, list[Any]]:
        """getmany() that gives way to rebalance callbacks and honours the timeout.

        While a rebalance runs, aiokafka's getmany waits for the new assignment without a
        time limit, and the rebalance itself waits for our parked callbacks: so the fetch is
        raced against "a callback was parked" and against the deadline, and cancelled (it
        holds no records then) when either comes first. A fetch that completes comes after
        every callback serviced here, so its records are of the current assignment: a
        lone member's rejoin (revoke, join, assign) and its first fetch fit in one poll, and
        those records must not be dropped as "revoked" (aiokafka has already moved the
        position past them, so they would be skipped for good).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while True:
            remaining = deadline - loop.time()
            fetch = asyncio.ensure_future(
                client.getmany(timeout_ms=max(int(remaining * 1000), 0), max_records=max_records)
            )
            parked = asyncio.ensure_future(self._parked_event.wait())
            await asyncio.wait(
                {fetch, parked}, timeout=max(remaining, 0), return_when=asyncio.FIRST_COMPLETED
            )
            parked.cancel()
            if not fetch.done():
                fetch.cancel()
                await asyncio.wait({fetch})
            if not fetch.cancelled():
                return fetch.result()  # type: ignore[no-any-return]
            if not self._parked:
                return {}  # the deadline passed during a rebalance
            await self._service_rebalance()
            if loop.time() >= deadline:
                return {}

    def request_rejoin(self) -> None:
        """Ask aiokafka's coordinator to rejoin: it revokes everything (our callbacks run
        inside the next poll) and the group hands out a fresh assignment."""
        coordinator = getattr(self._client, "_coordinator", None)
        if self._subscribed and coordinator is not None:
            coordinator.request_rejoin()

    def rebalancing(self) -> bool:
        return self._cooperative is not None and self._cooperative.rebalancing

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        if self.group_id is None:
            raise BrokerError("commit() needs a consumer created with a group_id.")
        client = await self._started()
        wanted = {KTP(*tp): off for tp, off in offsets.items()}
        coop = self._cooperative
        if coop is not None and coop.rebalancing:
            # A cooperative round leaves the tasks running, but Kafka refuses commits until
            # it ends: wait for it (one JoinGroup/SyncGroup exchange).
            await coop.wait_round(coop.rounds, _ROUND_WAIT_S)
        try:
            rounds = coop.rounds if coop is not None else 0
            try:
                await client.commit(self._still_owned(client, wanted))
            except CommitFailedError as exc:
                if coop is None or not isinstance(exc.__cause__, RebalanceInProgressError):
                    raise
                # The group began a round this member has not joined yet: commit after it.
                await coop.wait_round(rounds, _ROUND_WAIT_S)
                await client.commit(self._still_owned(client, wanted))
        except _MIGRATED as exc:
            raise TaskMigratedError(
                f"Committing offsets failed because the group rebalanced ({type(exc).__name__}); "
                "the partitions now belong to another worker: close their tasks without "
                "committing."
            ) from exc
        except KafkaError as exc:
            raise broker_error(exc, f"commit offsets of group {self.group_id!r}") from exc

    def _still_owned(self, client: AIOKafkaConsumer, offsets: dict[KTP, int]) -> dict[KTP, int]:
        """Cooperative: a round that ended while a commit waited may have taken partitions
        away; their offsets are dropped (aiokafka refuses unassigned partitions, and their
        new owner reprocesses from the last committed offset)."""
        if self._cooperative is None:
            return offsets
        owned = client.assignment()
        return {tp: off for tp, off in offsets.items() if tp in owned}

    async def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        if self.group_id is None:
            raise BrokerError("committed() needs a consumer created with a group_id.")
        return await self._admin.committed_offsets(self.group_id, partitions)
