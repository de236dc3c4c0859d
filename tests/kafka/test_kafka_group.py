"""Consumer-group membership through the adapter: two members split four partitions."""

from __future__ import annotations

import asyncio
import time

import pytest
from kafka_helpers import run, unique

from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.kafka.consumer import KafkaConsumer
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

pytestmark = pytest.mark.kafka


class Member:
    """Records the callbacks one consumer receives and what it owns, like the runtime would."""

    def __init__(self, name: str, events: list[tuple[str, str, frozenset[TopicPartition]]]) -> None:
        self.name = name
        self.events = events
        self.owned: set[TopicPartition] = set()
        self.seen: set[tuple[TopicPartition, int]] = set()

    async def on_assigned(self, parts: set[TopicPartition]) -> None:
        assert not (parts & self.owned), "assigned a partition it already owns"
        self.owned |= parts
        # a fresh assignment starts at the committed offset (none here): forget old reads
        self.seen = {(tp, off) for tp, off in self.seen if tp not in parts}
        self.events.append((self.name, "assigned", frozenset(parts)))

    async def on_revoked(self, parts: set[TopicPartition]) -> None:
        assert parts <= self.owned, "revoked a partition it did not own"
        self.owned -= parts
        self.events.append((self.name, "revoked", frozenset(parts)))

    async def poll(self, consumer: KafkaConsumer) -> None:
        for tp, records in (await consumer.poll(50)).items():
            assert tp in self.owned, f"{self.name} got records of {tp} it does not own"
            self.seen.update((tp, r.offset) for r in records)


async def poll_until(
    members: list[tuple[Member, KafkaConsumer]], done, timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "group did not settle in time"
        await asyncio.gather(*(m.poll(c) for m, c in members))


def test_two_members_split_four_partitions_with_callbacks(kafka: str) -> None:
    topic, group = unique("in"), unique("app")
    everything = {TopicPartition(topic, p) for p in range(4)}

    async def scenario() -> None:
        transport = KafkaTransport(kafka, session_timeout_ms=6000, heartbeat_interval_ms=500)
        try:
            await transport.admin().create_topics([TopicSpec(topic, 4)])
            producer = transport.producer()
            for p in range(4):
                for i in range(5):
                    producer.send(ProducerRecord(topic, p, b"k", b"v%d" % i, i))
            await producer.flush()

            events: list[tuple[str, str, frozenset[TopicPartition]]] = []
            a, b = Member("a", events), Member("b", events)
            ca = transport.consumer(group_id=group, client_id="a")
            await ca.subscribe([topic], on_assigned=a.on_assigned, on_revoked=a.on_revoked)
            await poll_until([(a, ca)], lambda: a.owned == everything)
            assert events == [("a", "assigned", frozenset(everything))]

            cb = transport.consumer(group_id=group, client_id="b")
            await cb.subscribe([topic], on_assigned=b.on_assigned, on_revoked=b.on_revoked)
            await poll_until(
                [(a, ca), (b, cb)],
                lambda: len(a.owned) == 2 and len(b.owned) == 2,
            )
            assert a.owned | b.owned == everything and not (a.owned & b.owned)
            # the first member gave everything back before taking its share (eager protocol)
            a_events = [(kind, parts) for who, kind, parts in events if who == "a"]
            assert a_events[1] == ("revoked", frozenset(everything))
            assert a_events[-1] == ("assigned", frozenset(a.owned))

            # b leaves: a takes all four partitions back
            b_events = [e for e in events if e[0] == "b"]
            await cb.close()
            await poll_until([(a, ca)], lambda: a.owned == everything)
            # close() does not call on_revoked: the runtime closes its own tasks first
            assert [e for e in events if e[0] == "b"] == b_events
            assert b_events[-1][1] == "assigned"
            # nothing was committed, so a reads every record again from the start, and only
            # ever records of partitions it owns (checked in Member.poll)
            await poll_until([(a, ca)], lambda: len(a.seen) == 20)
        finally:
            await transport.close()

    run(scenario(), timeout_s=45)


def test_records_fetched_after_a_rejoin_in_the_same_poll_are_returned(kafka: str) -> None:
    """A lone member rejoins (as after a frozen broker expired it): the revocation, the new
    assignment and the first fetch of the new generation can all happen inside one long
    poll. The records of that fetch belong to the new assignment and must be returned;
    dropping them (as records of a revoked partition) would skip them for good, since the
    consumer's position has already moved past them."""
    topic, group = unique("in"), unique("app")
    tp = TopicPartition(topic, 0)

    async def scenario() -> None:
        transport = KafkaTransport(kafka, session_timeout_ms=6000, heartbeat_interval_ms=500)
        try:
            await transport.admin().create_topics([TopicSpec(topic, 1)])
            producer = transport.producer()
            for i in range(10):
                producer.send(ProducerRecord(topic, 0, b"k", b"v%d" % i, i))
            await producer.flush()

            events: list[tuple[str, str, frozenset[TopicPartition]]] = []
            a = Member("a", events)
            consumer = transport.consumer(group_id=group, client_id="a")
            await consumer.subscribe([topic], on_assigned=a.on_assigned, on_revoked=a.on_revoked)
            await poll_until([(a, consumer)], lambda: len(a.seen) == 10)

            consumer.request_rejoin()
            # Polls long enough for the whole rejoin and a fetch of the new generation.
            # Nothing was committed: the new generation reads offsets 0-9 again.
            deadline = time.monotonic() + 20
            while len(events) < 3 or len(a.seen) < 10:
                assert time.monotonic() < deadline, (
                    f"records lost across the rejoin: {events}, read again {sorted(a.seen)}"
                )
                for part, records in (await consumer.poll(5_000)).items():
                    a.seen.update((part, r.offset) for r in records)
            assert [kind for _, kind, _ in events] == ["assigned", "revoked", "assigned"]
            assert a.seen == {(tp, i) for i in range(10)}
            await consumer.close()
        finally:
            await transport.close()

    run(scenario(), timeout_s=45)


def test_a_slow_assignment_callback_keeps_the_session_alive(kafka: str) -> None:
    """The runtime restores state inside on_assigned, which can take longer than the
    session timeout. The member must keep heartbeating meanwhile: otherwise the broker
    expels it right after it joined and the group rebalances again (and again, for a
    restore that never fits in one session)."""
    topic, group = unique("in"), unique("app")

    async def scenario() -> None:
        transport = KafkaTransport(kafka, session_timeout_ms=3000, heartbeat_interval_ms=300)
        try:
            await transport.admin().create_topics([TopicSpec(topic, 2)])
            events: list[tuple[str, str, frozenset[TopicPartition]]] = []
            a = Member("a", events)

            async def slow_assigned(parts: set[TopicPartition]) -> None:
                await a.on_assigned(parts)
                if parts:
                    await asyncio.sleep(5)  # a restore longer than the 3 s session

            consumer = transport.consumer(group_id=group, client_id="a")
            await consumer.subscribe([topic], on_assigned=slow_assigned, on_revoked=a.on_revoked)
            await poll_until([(a, consumer)], lambda: len(a.owned) == 2)
            deadline = time.monotonic() + 5  # a few sessions after the callback returned
            while time.monotonic() < deadline:
                await a.poll(consumer)
            assert [kind for _, kind, _ in events] == ["assigned"], events
            await consumer.close()
        finally:
            await transport.close()

    run(scenario(), timeout_s=60)
