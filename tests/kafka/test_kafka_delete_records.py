"""Admin.delete_records on real Kafka: the call the repartition purge makes after commits."""

from __future__ import annotations

import pytest
from kafka_helpers import run, unique

from streamz_kit.errors import BrokerError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

pytestmark = pytest.mark.kafka


def test_delete_records_moves_the_log_start_offset(kafka: str) -> None:
    topic = unique("purged")
    tp = TopicPartition(topic, 0)

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        await transport.start()
        admin = transport.admin()
        try:
            await admin.create_topics([TopicSpec(topic, 1, {"retention.ms": "-1"})])
            producer = transport.producer()
            for i in range(10):
                producer.send(ProducerRecord(topic, 0, b"k", b"v%d" % i, 1000 + i))
            await producer.flush()
            await producer.close()
            assert await admin.delete_records({tp: 4}) == {tp: 4}
            assert (await admin.list_offsets([tp], "earliest"))[tp] == 4
            [state] = await admin.describe_partitions([topic])
            assert (state.start_offset, state.end_offset) == (4, 10)
            consumer = transport.consumer(group_id=None)
            consumer.assign([tp])
            consumer.seek(tp, 4)
            got = []
            while len(got) < 6:
                got += (await consumer.poll(1000)).get(tp, [])
            assert [r.offset for r in got] == list(range(4, 10))
            await consumer.close()
            with pytest.raises(BrokerError):
                await admin.delete_records({tp: 11})  # past the end, as on the embedded log
        finally:
            await admin.close()
            await transport.close()

    run(scenario(), timeout_s=60)
