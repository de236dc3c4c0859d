"""Incremental cooperative rebalancing (KIP-429) on aiokafka's classic group coordinator.

aiokafka 0.14 hard-codes the eager protocol: before every JoinGroup its coordinator revokes
the whole assignment (`_on_join_prepare`), and after SyncGroup it builds a fresh
`Assignment` whose partition states have no positions (`_on_join_complete`). So every
partition of every member stops at every membership change, the ones that stay included.

`install(consumer, listener)` replaces those two steps on one consumer's coordinator:

- join-prepare revokes nothing: fetching and processing go on during JoinGroup/SyncGroup;
- join-complete computes `revoked = owned - assigned` and `added = assigned - owned`,
  carries each kept partition's position and pause over into the new `Assignment` (else
  aiokafka would re-read them from the committed offsets, reprocessing since the last
  commit), then calls the listener with `revoked` (if any) and `added`, and asks for a
  second round when it revoked something.

The other half is the leader's: `CopartitionAssignor(cooperative=True)` withholds every
index whose previous owner is another member still in the group, so that owner drops it
in round one and round two hands it to its target. Every member of the group must run
this protocol (its name differs from the eager assignor's, so a mixed group is refused
by the broker with InconsistentGroupProtocol instead of running half-eager).

Commits: Kafka refuses an offset commit while the group rebalances (REBALANCE_IN_PROGRESS),
which the eager path reads as "the partitions moved" and closes the tasks. Here the
rebalance state is tracked (`CooperativeState`) so `KafkaConsumer.commit` waits for the
round to end and commits then (a round takes one JoinGroup/SyncGroup exchange; nothing in
it waits for this member's poll loop, so the wait cannot deadlock).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocol

from streamz_kit.errors import ConfigError

log = logging.getLogger("streamz_kit.transport.kafka")


class CooperativeState:
    """Whether a cooperative round is in progress, and a way to wait for the next to end."""

    def __init__(self) -> None:
        self.rebalancing = False
        self.lost = False  # this member was removed from the group: nothing is kept
        self.rounds = 0
        self._ended = asyncio.Event()

    def begin(self) -> None:
        self.rebalancing = True

    def end(self) -> None:
        self.rebalancing = False
        self.rounds += 1
        self._ended.set()
        self._ended = asyncio.Event()

    async def wait_round(self, after: int, timeout_s: float) -> None:
        """Until more than `after` rounds have ended (or the timeout passed)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.rounds <= after and loop.time() < deadline:
            try:
                await asyncio.wait_for(self._ended.wait(), deadline - loop.time())
            except TimeoutError:
                return


def install(client: Any, state: CooperativeState) -> None:
    """Replace the eager join steps of `client` (a started AIOKafkaConsumer, before it
    subscribes) with the cooperative ones. Relies on aiokafka 0.14's GroupCoordinator
    internals (`_on_join_prepare`, `_on_join_complete`), looked up on the instance."""
    coordinator = client._coordinator
    subscription = client._subscription
    needed = (
        "_on_join_prepare",
        "_on_join_complete",
        "_lookup_assignor",
        "_assignors",
        "_stop_commit_offsets_refresh_task",
        "start_commit_offsets_refresh_task",
        "request_rejoin",
    )
    missing = [name for name in needed if not hasattr(coordinator, name)]
    if missing:
        raise ConfigError(
            "rebalance_protocol='cooperative' needs aiokafka 0.14's group coordinator "
            f"(this aiokafka lacks {', '.join(missing)}); use rebalance_protocol='eager'."
        )
    eager_prepare = coordinator._on_join_prepare

    async def on_join_prepare(previous_assignment: Any) -> None:
        if previous_assignment is not None and not coordinator.member_id:
            # The group removed this member (session expired, fenced): its partitions may
            # already run elsewhere, so they are lost, not kept. Revoke all of them as the
            # eager protocol does (the runtime's commit is refused and its tasks close
            # without committing) and stop claiming them in the join metadata.
            state.lost = True
            for assignor in coordinator._assignors:
                if hasattr(assignor, "owned"):
                    assignor.owned = set()
            await eager_prepare(previous_assignment)
            state.begin()
            return
        # No begin_reassignment(), no revocation: the current assignment keeps fetching.
        coordinator._group_subscription = None
        state.begin()

    async def on_join_complete(
        generation: int, member_id: str, protocol: str, member_assignment_bytes: bytes
    ) -> None:
        assignor = coordinator._lookup_assignor(protocol)
        assert assignor, f"invalid assignment protocol: {protocol}"
        decoded = ConsumerProtocol.ASSIGNMENT.decode(member_assignment_bytes)
        current = subscription.subscription
        old = current.assignment if current is not None else None
        if state.lost:  # revoked in full at join-prepare: nothing is kept
            old, state.lost = None, False
        owned = set(old.tps) if old is not None else set()
        assigned = set(decoded.partitions())
        revoked, added = owned - assigned, assigned - owned
        # The round is over (the group is stable again): commits are accepted from here on.
        state.end()
        log.info(
            "Cooperative rebalance (generation %s): keeps %d partitions, revokes %d, adds %d",
            generation,
            len(assigned & owned),
            len(revoked),
            len(added),
        )
        listener = subscription.listener
        if revoked and listener is not None:
            # Before the new assignment is installed, as Kafka's consumer does: the revoked
            # partitions are still this member's while their offsets are committed.
            try:
                await listener.on_partitions_revoked(revoked)
            except Exception:
                log.exception("The rebalance listener failed in group %s", coordinator.group_id)
        kept: dict[Any, tuple[int | None, bool]] = {}
        if old is not None:
            for tp in assigned & owned:
                tp_state = old.state_value(tp)
                position = tp_state.position if tp_state.has_valid_position else None
                kept[tp] = (position, tp_state.paused)
        subscription.assign_from_subscribed(assigned)
        new = subscription.subscription.assignment
        for tp, (position, paused) in kept.items():
            tp_state = new.state_value(tp)
            if position is not None:
                tp_state.seek(position)
            if paused:
                tp_state.pause()
        assignor.on_assignment(decoded)
        await coordinator._stop_commit_offsets_refresh_task()
        coordinator.start_commit_offsets_refresh_task(new)
        if listener is not None:
            try:
                await listener.on_partitions_assigned(added)
            except Exception:
                log.exception("The rebalance listener failed in group %s", coordinator.group_id)
        if revoked:
            # Round two: the partitions given up here go to their new owners.
            coordinator.request_rejoin()

    coordinator._on_join_prepare = on_join_prepare
    coordinator._on_join_complete = on_join_complete


__all__ = ["CooperativeState", "install"]
