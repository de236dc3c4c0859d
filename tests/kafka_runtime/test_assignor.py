"""The co-partition assignor: balance, co-location, stickiness, warm state, standbys."""

from __future__ import annotations

import json
from types import SimpleNamespace

from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from streamz_kit.runtime.assignor import CopartitionAssignor, MemberInfo, plan_assignment


def test_balanced_and_deterministic() -> None:
    plans = plan_assignment(6, {"b": MemberInfo(), "a": MemberInfo(), "c": MemberInfo()})
    assert sorted(len(p.active) for p in plans.values()) == [2, 2, 2]
    assert sorted(i for p in plans.values() for i in p.active) == list(range(6))
    again = plan_assignment(6, {"c": MemberInfo(), "a": MemberInfo(), "b": MemberInfo()})
    assert {m: p.active for m, p in plans.items()} == {m: p.active for m, p in again.items()}


def test_uneven_counts_differ_by_at_most_one() -> None:
    for n in range(9):
        for m in range(1, 5):
            plans = plan_assignment(n, {f"m{i}": MemberInfo() for i in range(m)})
            sizes = [len(p.active) for p in plans.values()]
            assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n


def test_members_keep_what_they_owned_when_one_joins() -> None:
    before = {"a": MemberInfo(owned={0, 1, 2}), "b": MemberInfo(owned={3, 4, 5})}
    plans = plan_assignment(6, {**before, "c": MemberInfo()})
    assert set(plans["a"].active) <= {0, 1, 2} and len(plans["a"].active) == 2
    assert set(plans["b"].active) <= {3, 4, 5} and len(plans["b"].active) == 2
    assert len(plans["c"].active) == 2


def test_survivors_keep_theirs_and_split_the_dead_members_indices() -> None:
    plans = plan_assignment(6, {"a": MemberInfo(owned={0, 3}), "c": MemberInfo(owned={2, 5})})
    assert {0, 3} <= set(plans["a"].active) and {2, 5} <= set(plans["c"].active)
    assert sorted(plans["a"].active + plans["c"].active) == list(range(6))


def test_free_indices_go_to_a_member_with_warm_state() -> None:
    plans = plan_assignment(
        4,
        {
            "a": MemberInfo(owned={0}),
            "b": MemberInfo(owned={1}),
            "z": MemberInfo(warm={2, 3}),
        },
    )
    assert plans["z"].active == [2, 3] or set(plans["z"].active) <= {2, 3}
    assert len(plans["z"].active) >= 1


def test_conflicting_claims_give_each_index_one_owner() -> None:
    plans = plan_assignment(4, {"a": MemberInfo(owned={0, 1}), "b": MemberInfo(owned={0, 1})})
    owned = plans["a"].active + plans["b"].active
    assert sorted(owned) == [0, 1, 2, 3]


def test_standbys_never_on_the_owner_and_prefer_warm_members() -> None:
    members = {"a": MemberInfo(), "b": MemberInfo(warm={0, 1, 2, 3}), "c": MemberInfo()}
    plans = plan_assignment(4, members, num_standbys=1)
    for m, plan in plans.items():
        assert not set(plan.active) & set(plan.standby), m
    standby_count = sum(len(p.standby) for p in plans.values())
    assert standby_count == 4
    owned_by_others = [i for m in ("a", "c") for i in plans[m].active]
    assert all(i in plans["b"].standby for i in owned_by_others)
    # more replicas than other members: each index on every other member
    plans = plan_assignment(2, {"a": MemberInfo(), "b": MemberInfo()}, num_standbys=5)
    assert plans["a"].standby == plans["b"].active and plans["b"].standby == plans["a"].active


def _cluster(counts: dict[str, int]) -> SimpleNamespace:
    return SimpleNamespace(
        partitions_for_topic=lambda t: set(range(counts[t])) if t in counts else None
    )


def test_aiokafka_assignor_puts_partition_p_of_every_topic_on_one_member() -> None:
    a = CopartitionAssignor(num_standbys=1, warm_indices=lambda: {3})
    meta = a.metadata(["left", "right", "app-rep-repartition"])
    assert json.loads(meta.user_data) == {"owned": [], "warm": [3], "endpoint": None}
    other = ConsumerProtocolMemberMetadata(1, ["left", "right", "app-rep-repartition"], b"")
    result = a.assign(
        _cluster({"left": 4, "right": 4, "app-rep-repartition": 4}), {"m1": meta, "m2": other}
    )
    seen: dict[int, str] = {}
    for member, assignment in result.items():
        topics = dict(assignment.assignment)
        assert set(topics) == {"left", "right", "app-rep-repartition"}
        parts = set(topics["left"])
        assert parts == set(topics["right"]) == set(topics["app-rep-repartition"])
        for p in parts:
            assert p not in seen
            seen[p] = member
    assert sorted(seen) == [0, 1, 2, 3] and 3 in dict(result["m1"].assignment)["left"]
    a.on_assignment(result["m1"])
    assert a.owned == set(dict(result["m1"].assignment)["left"])
    assert a.standby == set(dict(result["m2"].assignment)["left"])
    assert json.loads(a.metadata(["left"]).user_data)["owned"] == sorted(a.owned)


def test_cooperative_withholds_moving_indices_for_one_round() -> None:
    """Round one: an index still owned by another member goes to nobody (its owner drops
    it); round two: it is free and goes to its target. Indices that stay never move."""
    a = CopartitionAssignor(cooperative=True)
    assert a.name == "streamz-cooperative" != CopartitionAssignor().name
    cluster = _cluster({"in": 4})

    def meta(owned: list[int]) -> ConsumerProtocolMemberMetadata:
        user_data = json.dumps({"owned": owned, "warm": [], "endpoint": None}).encode()
        return ConsumerProtocolMemberMetadata(1, ["in"], user_data)

    first = a.assign(cluster, {"m1": meta([0, 1, 2, 3]), "m2": meta([])})
    kept = dict(first["m1"].assignment)["in"]
    assert len(kept) == 2 and dict(first["m2"].assignment).get("in", []) == []
    second = a.assign(cluster, {"m1": meta(kept), "m2": meta([])})
    assert dict(second["m1"].assignment)["in"] == kept
    assert sorted(dict(second["m2"].assignment)["in"]) == sorted({0, 1, 2, 3} - set(kept))
    # A member that left frees its indices at once: no round is withheld for them.
    third = a.assign(cluster, {"m1": meta(kept)})
    assert sorted(dict(third["m1"].assignment)["in"]) == [0, 1, 2, 3]
