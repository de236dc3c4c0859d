"""Cooperative rebalancing (KIP-429, `rebalance_protocol="cooperative"`) on real Kafka,
through the adapter: a member that joins takes partitions away from the first member in
two rounds, and the partitions that stay are neither revoked nor re-read."""

from __future__ import annotations

import asyncio
import time

import pytest
from kafka_helpers import run, unique

from streamz_kit.runtime.assignor import CopartitionAssignor
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.kafka.consumer import KafkaConsumer
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

pytestmark = pytest.mark.kafka


class Member:
    """Keeps the callbacks, what it owns, and every (partition, offset) it read, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[tuple[str, frozenset[int]]] = []
        self.owned: set[TopicPartition] = set()
        self.reads: dict[int, list[int]] = {}

    async def on_assigned(self, parts: set[TopicPartition]) -> None:
        assert not (parts & self.owned), "assigned a partition it already owns"
        self.owned |= parts
        self.events.append(("assigned", frozenset(tp.partition for tp in parts)))

    async def on_revoked(self, parts: set[TopicPartition]) -> None:
        assert parts <= self.owned, "revoked a partition it did not own"
        self.owned -= parts
        self.events.append(("revoked", frozenset(tp.partition for tp in parts)))

    async def poll(self, consumer: KafkaConsumer) -> None:
        for tp, records in (await consumer.poll(50)).items():
            assert tp in self.owned, f"{self.name} got records of {tp} it does not own"
            self.reads.setdefault(tp.partition, []).extend(r.offset for r in records)


def test_a_joining_member_takes_only_what_moves_and_the_rest_keeps_its_position(
    kafka: str,
) -> None:
    topic, group = unique("in"), unique("app")

    async def scenario() -> None:
        def transport_for() -> KafkaTransport:
            return KafkaTransport(
                kafka,
                session_timeout_ms=6000,
                heartbeat_interval_ms=300,
                rebalance_protocol="cooperative",
                partition_assignment_strategy=(CopartitionAssignor(cooperative=True),),
            )

        ta, tb = transport_for(), transport_for()
        try:
            await ta.admin().create_topics([TopicSpec(topic, 4)])
            producer = ta.producer()
            sent = [0, 0, 0, 0]

            async def produce(rounds: int) -> None:
                for _ in range(rounds):
                    for p in range(4):
                        producer.send(ProducerRecord(topic, p, b"k", b"v", sent[p]))
                        sent[p] += 1
                await producer.flush()

            await produce(5)
            a, b = Member("a"), Member("b")
            ca = ta.consumer(group_id=group, client_id="a")
            await ca.subscribe([topic], on_assigned=a.on_assigned, on_revoked=a.on_revoked)
            deadline = time.monotonic() + 20
            while sum(map(len, a.reads.values())) < 20:
                assert time.monotonic() < deadline, f"a read only {a.reads}"
                await a.poll(ca)
            assert a.events == [("assigned", frozenset({0, 1, 2, 3}))]

            cb = tb.consumer(group_id=group, client_id="b")
            await cb.subscribe([topic], on_assigned=b.on_assigned, on_revoked=b.on_revoked)
            deadline = time.monotonic() + 30
            while len(b.owned) < 2 or len(a.owned) != 2:
                assert time.monotonic() < deadline, (a.events, b.events)
                await produce(1)  # records keep coming during the rebalance
                await asyncio.gather(a.poll(ca), b.poll(cb))
            await produce(3)
            want = sent[:]
            deadline = time.monotonic() + 20
            while any(
                max(m.reads.get(tp.partition, [-1])) < want[tp.partition] - 1
                for m in (a, b)
                for tp in m.owned
            ):
                assert time.monotonic() < deadline, (a.reads, b.reads, want)
                await asyncio.gather(a.poll(ca), b.poll(cb))

            moved = {tp.partition for tp in b.owned}
            kept = {0, 1, 2, 3} - moved
            # Round one took away only what moves (eager would revoke all four), round two
            # gave it to b; b got nothing before a had let it go, and a never lost the rest.
            assert a.events[:2] == [
                ("assigned", frozenset({0, 1, 2, 3})),
                ("revoked", frozenset(moved)),
            ], a.events
            assert all(e == ("assigned", frozenset()) for e in a.events[2:]), a.events
            assert len(moved) == 2 and all(kind == "assigned" for kind, _ in b.events), b.events
            assert b.events[0] == ("assigned", frozenset()), b.events  # withheld in round one
            # Nothing was committed: an eager rebalance would have re-read the kept
            # partitions from offset 0. Cooperative keeps their positions: each offset once.
            for p in kept:
                assert a.reads[p] == list(range(want[p])), (p, a.reads[p][:30])
            await ca.close()
            await cb.close()
        finally:
            await ta.close()
            await tb.close()

    run(scenario(), timeout_s=90)
