"""Co-partition-aware, sticky partition assignment for a consumer group of workers.

Why not aiokafka's round robin: it deals partitions of each topic out independently, so
partition p of two joined topics can land on two workers, and the task for p (which must
read p of every co-partitioned source) cannot run anywhere. Here the unit of assignment is
the *partition index*: whoever gets index p gets partition p of every subscribed topic.

The plan, computed by the group leader from what every member reported in its join
metadata (`owned`: indices it ran last generation; `warm`: indices it has local state
for, from a standby or an earlier run):
1. balance: every member gets floor(n/m) or ceil(n/m) indices;
2. sticky: members keep the indices they owned, up to their share;
3. warm: free indices go first to a member holding their state (restore only the tail);
4. the rest go to the least-loaded members, in member order (deterministic).
Standby indices (num_standby_replicas > 0) ride back in the assignment's user data: each
index gets up to N members other than its owner, preferring members that hold its state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

log = logging.getLogger("streamz_kit.assignor")


@dataclass
class MemberInfo:
    owned: set[int] = field(default_factory=set)
    warm: set[int] = field(default_factory=set)


@dataclass
class MemberPlan:
    active: list[int] = field(default_factory=list)
    standby: list[int] = field(default_factory=list)


def plan_assignment(
    n_indices: int, members: Mapping[str, MemberInfo], num_standbys: int = 0
) -> dict[str, MemberPlan]:
    """Which partition indices each member runs and stands by for (see module docstring)."""
    order = sorted(members)
    plans = {m: MemberPlan() for m in order}
    if not order:
        return plans
    base, extra = divmod(n_indices, len(order))
    extras_left = [extra]
    owner: dict[int, str] = {}

    def take(member: str, index: int) -> bool:
        have = len(plans[member].active)
        if have < base:
            pass
        elif have == base and extras_left[0] > 0:
            extras_left[0] -= 1
        else:
            return False
        plans[member].active.append(index)
        owner[index] = member
        return True

    valid = range(n_indices)
    # 2. sticky, first up to the base share, then one extra each while extras last
    for rounds in (base, base + 1):
        for m in order:
            for index in sorted(members[m].owned):
                if index in valid and index not in owner and len(plans[m].active) < rounds:
                    take(m, index)
    # 3. warm state
    for index in valid:
        if index in owner:
            continue
        holders = sorted(
            (m for m in order if index in members[m].warm), key=lambda m: len(plans[m].active)
        )
        for m in holders:
            if take(m, index):
                break
    # 4. least loaded
    for index in valid:
        if index in owner:
            continue
        for m in sorted(order, key=lambda m: len(plans[m].active)):
            if take(m, index):
                break
    for m in order:
        plans[m].active.sort()
    # standbys
    replicas = min(num_standbys, len(order) - 1)
    if replicas > 0:
        # Spread each owner's standbys over the other members first: when the owner dies,
        # balance lets each survivor take only a share of its indices, so standbys piled on
        # one member would leave the rest to restore in full. Then prefer warm members.
        shared: dict[tuple[str, str | None], int] = {}
        for index in valid:
            active = owner.get(index)
            candidates = [m for m in order if m != active]
            candidates.sort(
                key=lambda m: (
                    shared.get((m, active), 0),
                    index not in members[m].warm and index not in members[m].owned,
                    len(plans[m].standby),
                )
            )
            for m in candidates[:replicas]:
                plans[m].standby.append(index)
                shared[(m, active)] = shared.get((m, active), 0) + 1
    return plans


def withhold_moving(plans: Mapping[str, MemberPlan], members: Mapping[str, MemberInfo]) -> None:
    """Cooperative round one: an index another member still owns goes to nobody yet.

    Its owner sees it missing from its assignment, revokes it (commits and closes the task)
    and asks for a second round, in which the index is free and goes to its target. So no
    index ever runs on two members at once, and no other index stops.
    """
    owner = {index: m for m, info in members.items() for index in info.owned}
    for member, plan in plans.items():
        plan.active = [i for i in plan.active if owner.get(i, member) == member]


def _decode(user_data: bytes) -> dict[str, Any]:
    if not user_data:
        return {}
    try:
        data = json.loads(user_data)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class CopartitionAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """An aiokafka assignor *instance* (one per worker's group consumer).

    aiokafka calls `metadata`, `assign` and `on_assignment` on whatever objects sit in
    `partition_assignment_strategy`, so an instance can remember what its member owned and
    ask the worker which indices it holds local state for.
    """

    name = "streamz-copartition"
    version = 1

    def __init__(
        self,
        *,
        num_standbys: int = 0,
        warm_indices: Callable[[], set[int]] | None = None,
        cooperative: bool = False,
    ) -> None:
        self.num_standbys = num_standbys
        # KIP-429: an index that changes owner is withheld for one round (see `assign`).
        # Its own protocol name, so a group mixing eager and cooperative members is refused.
        self.cooperative = cooperative
        if cooperative:
            self.name = "streamz-cooperative"
        self.warm_indices = warm_indices or set
        self.owned: set[int] = set()
        self.standby: set[int] = set()
        self.generations = 0
        # Interactive queries (Kafka Streams' queryMetadataForKey): each member advertises
        # its HTTP endpoint; the leader hands every member the map index -> endpoint.
        self.endpoint: str | None = None
        self.hosts: dict[int, str] = {}

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        try:
            warm = sorted(self.warm_indices())
        except Exception:  # a hint must never break joining the group
            log.exception("Listing local task state for the assignor failed")
            warm = []
        user_data = json.dumps(
            {"owned": sorted(self.owned), "warm": warm, "endpoint": self.endpoint}
        ).encode()
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), user_data)

    def assign(
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        counts: dict[str, int] = {}
        for meta in members.values():
            for topic in meta.subscription:
                parts = cluster.partitions_for_topic(topic)
                if parts is None:
                    log.warning("No partition metadata for topic %s", topic)
                    continue
                counts[topic] = len(parts)
        infos = {}
        endpoints: dict[str, str] = {}
        for member_id, meta in members.items():
            data = _decode(meta.user_data)
            if isinstance(data.get("endpoint"), str):
                endpoints[member_id] = data["endpoint"]
            infos[member_id] = MemberInfo(
                owned={int(i) for i in data.get("owned", [])},
                warm={int(i) for i in data.get("warm", [])},
            )
        n = max(counts.values(), default=0)
        plans = plan_assignment(n, infos, self.num_standbys)
        if self.cooperative:
            withhold_moving(plans, infos)
        hosts = {
            str(index): endpoints[member]
            for member, plan in plans.items()
            if member in endpoints
            for index in plan.active
        }
        out = {}
        for member_id, meta in members.items():
            plan = plans[member_id]
            topics = [
                (topic, [p for p in plan.active if p < counts[topic]])
                for topic in sorted(set(meta.subscription) & set(counts))
            ]
            out[member_id] = ConsumerProtocolMemberAssignment(
                self.version,
                [(t, ps) for t, ps in topics if ps],
                json.dumps({"standby": plan.standby, "hosts": hosts}).encode(),
            )
        log.info(
            "Assigned partition indices %s",
            {m: (p.active, p.standby) for m, p in plans.items()},
        )
        return out

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        self.owned = {p for _topic, parts in assignment.assignment for p in parts}
        data = _decode(assignment.user_data)
        self.standby = {int(i) for i in data.get("standby", [])}
        self.hosts = {int(i): str(e) for i, e in (data.get("hosts") or {}).items()}
        self.generations += 1


__all__ = [
    "CopartitionAssignor",
    "MemberInfo",
    "MemberPlan",
    "plan_assignment",
    "withhold_moving",
]
