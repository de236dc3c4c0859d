"""The workers of `run --workers N` on the embedded log start together: the first members
wait (at most leases.INITIAL_JOIN_WAIT_S, Kafka's group.initial.rebalance.delay.ms) until
the N expected members have joined, so none takes every partition only to hand half of them
back at once (a rebalance, then a state restoration, at every start)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from streamz_kit.transport import TopicPartition, TopicSpec, connect


async def _member(
    log: Path, index: int, events: list[tuple[int, str, list[int]]]
) -> tuple[object, object]:
    transport = connect(
        f"embedded://{log}",
        group_member=f"worker-{index}",
        group_members_expected=2,
    )
    await transport.start()
    consumer = transport.consumer(group_id="app")

    async def assigned(tps: set[TopicPartition]) -> None:
        events.append((index, "assigned", sorted(tp.partition for tp in tps)))

    async def revoked(tps: set[TopicPartition]) -> None:
        events.append((index, "revoked", sorted(tp.partition for tp in tps)))

    await consumer.subscribe(["in"], on_assigned=assigned, on_revoked=revoked)
    return transport, consumer


def test_members_started_together_take_their_share_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    events: list[tuple[int, str, list[int]]] = []

    async def scenario() -> None:
        admin_side = connect(f"embedded://{log}")
        await admin_side.start()
        await admin_side.admin().create_topics([TopicSpec("in", 4)])
        await admin_side.close()
        first = await _member(log, 0, events)
        for _ in range(10):  # the second worker is still starting: the first takes nothing
            await first[1].poll(timeout_ms=20)  # type: ignore[attr-defined]
        assert events == []
        second = await _member(log, 1, events)
        for _ in range(200):
            if len({i for i, kind, _ in events if kind == "assigned"}) == 2:
                break
            for _, consumer in (first, second):
                await consumer.poll(timeout_ms=10)  # type: ignore[attr-defined]
        for transport, _ in (first, second):
            await transport.close()  # type: ignore[attr-defined]

    asyncio.run(scenario())
    assigned = {i: parts for i, kind, parts in events if kind == "assigned" and parts}
    # each took its share once (p mod 2 of the sorted member ids), and nobody gave any back
    assert sorted(p for parts in assigned.values() for p in parts) == [0, 1, 2, 3]
    assert all(len(parts) == 2 for parts in assigned.values()), events
    assert not [e for e in events if e[1] == "revoked" and e[2]], events
