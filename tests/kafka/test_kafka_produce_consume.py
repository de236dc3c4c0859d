"""Producing and reading records through the Kafka adapter against real Kafka."""

from __future__ import annotations

import pytest
from kafka_helpers import run, unique

from streamz_kit.errors import BrokerError, UnknownTopicError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import (
    ConsumedRecord,
    Consumer,
    ProducerRecord,
    TopicPartition,
    TopicSpec,
)

pytestmark = pytest.mark.kafka


async def drain(
    consumer: Consumer, idle_polls: int = 2
) -> dict[TopicPartition, list[ConsumedRecord]]:
    """Read until a few polls in a row return nothing (end offsets alone are unreliable)."""
    out: dict[TopicPartition, list[ConsumedRecord]] = {}
    empty = 0
    while empty < idle_polls:
        batch = await consumer.poll(200)
        if not batch:
            empty += 1
            continue
        empty = 0
        for tp, records in batch.items():
            out.setdefault(tp, []).extend(records)
    return out


def test_produced_batches_read_back_with_offsets_keys_values_headers(kafka: str) -> None:
    topic = unique("data")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            await transport.start()
            await transport.admin().create_topics([TopicSpec(topic, 3)])
            producer = transport.producer()
            sent: dict[int, list[ProducerRecord]] = {0: [], 1: [], 2: []}
            for i in range(300):
                p = i % 3
                headers = (("trace", b"t%d" % i), ("n", b"")) if i % 2 else ()
                key = None if i == 7 else b"key-%d" % i
                value = None if i == 8 else b"value-%d" % i
                record = ProducerRecord(topic, p, key, value, 1_700_000_000_000 + i, headers)
                producer.send(record)
                sent[p].append(record)
            last = await producer.flush()
            assert last == {TopicPartition(topic, p): 99 for p in range(3)}
            # a second flush continues the offsets, an empty flush writes nothing
            producer.send(ProducerRecord(topic, 1, b"more", b"x", 1_700_000_001_000))
            assert await producer.flush() == {TopicPartition(topic, 1): 100}
            assert await producer.flush() == {}
            sent[1].append(ProducerRecord(topic, 1, b"more", b"x", 1_700_000_001_000))

            consumer = transport.consumer(group_id=None)
            consumer.assign([TopicPartition(topic, p) for p in range(3)])
            for p in range(3):
                consumer.seek(TopicPartition(topic, p), 0)
            got = await drain(consumer)
            for p in range(3):
                records = got[TopicPartition(topic, p)]
                assert [r.offset for r in records] == list(range(len(sent[p])))
                assert [(r.key, r.value, r.timestamp, r.headers) for r in records] == [
                    (s.key, s.value, s.timestamp, s.headers) for s in sent[p]
                ]
                assert all(r.topic == topic and r.partition == p for r in records)
                assert consumer.position(TopicPartition(topic, p)) == len(sent[p])
        finally:
            await transport.close()

    run(scenario())


def test_seek_position_pause_and_resume(kafka: str) -> None:
    topic = unique("seek")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            await transport.admin().create_topics([TopicSpec(topic, 2)])
            producer = transport.producer()
            for p in range(2):
                for i in range(50):
                    producer.send(ProducerRecord(topic, p, b"k", b"%d" % i, i))
            await producer.flush()
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            consumer = transport.consumer(group_id=None)
            consumer.assign([tp0, tp1])
            assert consumer.assignment() == {tp0, tp1}
            consumer.seek(tp0, 40)  # before the client started: remembered
            assert consumer.position(tp0) == 40
            consumer.seek(tp1, 0)
            consumer.pause([tp1])
            got = await drain(consumer)
            assert set(got) == {tp0}
            assert [r.offset for r in got[tp0]] == list(range(40, 50))
            consumer.resume([tp1])
            consumer.seek(tp0, 45)  # on the running client
            got = await drain(consumer)
            assert [r.offset for r in got[tp0]] == list(range(45, 50))
            assert [r.offset for r in got[tp1]] == list(range(50))
            assert consumer.position(tp1) == 50
        finally:
            await transport.close()

    run(scenario())


def test_consumer_commit_and_committed_round_trip(kafka: str) -> None:
    topic, group = unique("in"), unique("grp")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            await transport.admin().create_topics([TopicSpec(topic, 2)])
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            consumer = transport.consumer(group_id=group)
            consumer.assign([tp0, tp1])
            assert await consumer.committed([tp0, tp1]) == {}
            await consumer.commit({tp0: 12, tp1: 3})
            assert await consumer.committed([tp0, tp1]) == {tp0: 12, tp1: 3}
            await consumer.commit({tp1: 4})
            assert await consumer.committed([tp0, tp1]) == {tp0: 12, tp1: 4}
            await consumer.close()
            assert await transport.admin().committed_offsets(group, [tp0, tp1]) == {tp0: 12, tp1: 4}
        finally:
            await transport.close()

    run(scenario())


def test_subscribe_to_missing_topics_names_them(kafka: str) -> None:
    present, missing_a, missing_b = unique("here"), unique("gone-a"), unique("gone-b")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            await transport.admin().create_topics([TopicSpec(present, 1)])
            consumer = transport.consumer(group_id=unique("grp"))

            async def ignore(parts: set[TopicPartition]) -> None:
                pass

            with pytest.raises(UnknownTopicError) as info:
                await consumer.subscribe(
                    [present, missing_a, missing_b], on_assigned=ignore, on_revoked=ignore
                )
            assert missing_a in str(info.value) and missing_b in str(info.value)
            assert present not in str(info.value)
            assert missing_a not in await transport.admin().list_topics()
        finally:
            await transport.close()

    run(scenario())


def test_plain_producer_refuses_transaction_calls(kafka: str) -> None:
    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            producer = transport.producer()
            assert not producer.transactional
            with pytest.raises(BrokerError, match="not transactional"):
                await producer.begin()
        finally:
            await transport.close()

    run(scenario())


def test_dispatched_records_are_confirmed_and_counted_by_the_next_flush(kafka: str) -> None:
    """at_least_once hands outputs to aiokafka after each batch without waiting; the
    commit's flush must still wait for them and report their offsets."""
    topic = unique("dispatch")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        try:
            await transport.start()
            await transport.admin().create_topics([TopicSpec(topic, 2)])
            producer = transport.producer()
            for round_ in range(5):
                for i in range(100):
                    producer.send(
                        ProducerRecord(
                            topic, i % 2, b"k%d" % i, b"r%d-%d" % (round_, i), 1_700_000_000_000 + i
                        )
                    )
                await producer.dispatch()
            producer.send(ProducerRecord(topic, 0, b"last", b"x", 1_700_000_000_500))
            assert await producer.flush() == {
                TopicPartition(topic, 0): 250,
                TopicPartition(topic, 1): 249,
            }
            assert await producer.flush() == {}
            consumer = transport.consumer(group_id=None)
            consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
            got = await drain(consumer)
            values = [r.value for r in got[TopicPartition(topic, 1)]]
            assert values == [b"r%d-%d" % (r, i) for r in range(5) for i in range(1, 100, 2)]
            await consumer.close()
        finally:
            await transport.close()

    run(scenario())
