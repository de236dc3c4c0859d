"""Exactly-once through the adapter, on the session's real Kafka broker."""

from __future__ import annotations

import pytest
from kafka_helpers import run, unique

from streamz_kit.errors import ProducerFencedError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import Consumer, ProducerRecord, TopicPartition, TopicSpec

pytestmark = pytest.mark.kafka


async def _read_all(consumer: Consumer) -> list[bytes | None]:
    values: list[bytes | None] = []
    empty = 0
    while empty < 3:
        batch = await consumer.poll(500)
        if not batch:
            empty += 1
        for records in batch.values():
            values.extend(r.value for r in records)
    return values


def test_transaction_commits_records_and_offsets_atomically_and_aborts_cleanly(kafka: str) -> None:
    source, sink, group = unique("eos-in"), unique("eos-out"), unique("eos-app")
    txn_id = unique("eos-app-0_0")

    async def scenario() -> None:
        transport = KafkaTransport(kafka, replication_factor=1)
        try:
            await transport.admin().create_topics([TopicSpec(source, 1), TopicSpec(sink, 1)])
            src, out = TopicPartition(source, 0), TopicPartition(sink, 0)

            producer = transport.producer(transactional_id=txn_id)
            await producer.begin()
            producer.send(ProducerRecord(sink, 0, b"k", b"committed-1", 1))
            producer.send(ProducerRecord(sink, 0, b"k", b"committed-2", 2))
            await producer.send_offsets(group, {src: 10})
            written = await producer.commit()
            assert written[out] >= 1

            await producer.begin()
            producer.send(ProducerRecord(sink, 0, b"k", b"aborted", 3))
            await producer.send_offsets(group, {src: 99})
            await producer.abort()

            reader = transport.consumer(group_id=None, read_committed=True)
            reader.assign([out])
            reader.seek(out, 0)
            assert await _read_all(reader) == [b"committed-1", b"committed-2"]
            assert await transport.admin().committed_offsets(group, [src]) == {src: 10}

            # a second producer with the same transactional id fences the first
            newer = transport.producer(transactional_id=txn_id)
            await newer.begin()
            await newer.abort()
            with pytest.raises(ProducerFencedError):
                await producer.begin()
                producer.send(ProducerRecord(sink, 0, b"k", b"zombie", 4))
                await producer.commit()
        finally:
            await transport.close()

    run(scenario(), timeout_s=60)
