"""Admin operations of the Kafka adapter against real Kafka."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeConfigsRequest
from kafka_helpers import run, unique

from streamz_kit.errors import BrokerError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

pytestmark = pytest.mark.kafka


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        response = await client._send_request(DescribeConfigsRequest([(2, topic, None)], False))
        (_code, _msg, _type, _name, entries) = response.resources[0]
        return {e[0]: e[1] for e in entries}
    finally:
        await client.close()


def test_create_topics_with_partitions_and_configs(kafka: str) -> None:
    events, changelog = unique("events"), unique("store-changelog")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            await admin.create_topics(
                [
                    TopicSpec(events, 4),
                    TopicSpec(changelog, 2, {"cleanup.policy": "compact"}),
                ]
            )
            # creating again is fine, and leaves the topic as it was
            await admin.create_topics([TopicSpec(events, 8)])
            counts = await admin.partition_counts([events, changelog, unique("missing")])
            assert counts == {events: 4, changelog: 2}
            assert {events, changelog} <= set(await admin.list_topics())
            assert (await _topic_config(kafka, changelog)).get("cleanup.policy") == "compact"

            await admin.delete_topics([changelog])
            assert changelog not in await admin.list_topics()
            assert await admin.partition_counts([changelog]) == {}
        finally:
            await transport.close()

    run(scenario())


def test_asking_about_a_missing_topic_does_not_create_it(kafka: str) -> None:
    ghost = unique("ghost")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            assert await admin.partition_counts([ghost]) == {}
            assert ghost not in await admin.list_topics()
        finally:
            await transport.close()

    run(scenario())


def test_list_offsets_earliest_and_latest(kafka: str) -> None:
    topic = unique("offsets")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            await admin.create_topics([TopicSpec(topic, 2)])
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            assert await admin.list_offsets([tp0, tp1], "latest") == {tp0: 0, tp1: 0}
            producer = transport.producer()
            for i in range(10):  # one record per flush: ten single-record batches
                producer.send(ProducerRecord(topic, 0, b"k", b"%d" % i, 1_000 + i))
                await producer.flush()
            assert await admin.list_offsets([tp0, tp1], "earliest") == {tp0: 0, tp1: 0}
            assert await admin.list_offsets([tp0, tp1], "latest") == {tp0: 10, tp1: 0}
            # one batch of 100 records: Tansu's ListOffsets alone would say 1
            for i in range(100):
                producer.send(ProducerRecord(topic, 1, b"k", b"%d" % i, 2_000 + i))
            await producer.flush()
            assert await admin.list_offsets([tp0, tp1], "latest") == {tp0: 10, tp1: 100}
        finally:
            await transport.close()

    run(scenario())


def test_group_offsets_round_trip_and_delete_group(kafka: str) -> None:
    topic, group = unique("in"), unique("app")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            await admin.create_topics([TopicSpec(topic, 3)])
            tps = [TopicPartition(topic, p) for p in range(3)]
            assert await admin.committed_offsets(group, tps) == {}
            assert not await admin.group_is_active(group)
            await admin.alter_group_offsets(group, {tps[0]: 5, tps[2]: 7})
            assert await admin.committed_offsets(group, tps) == {tps[0]: 5, tps[2]: 7}
            await admin.alter_group_offsets(group, {tps[0]: 0})
            assert await admin.committed_offsets(group, tps) == {tps[0]: 0, tps[2]: 7}
            await admin.delete_group(group)
            assert await admin.committed_offsets(group, tps) == {}
            await admin.delete_group(unique("never-existed"))
        finally:
            await transport.close()

    run(scenario())


def test_group_is_active_while_a_member_lives(kafka: str) -> None:
    topic, group = unique("in"), unique("app")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            await admin.create_topics([TopicSpec(topic, 2)])
            assigned: list[set[TopicPartition]] = []

            async def on_assigned(parts: set[TopicPartition]) -> None:
                assigned.append(parts)

            async def on_revoked(parts: set[TopicPartition]) -> None:
                pass

            consumer = transport.consumer(group_id=group)
            await consumer.subscribe([topic], on_assigned=on_assigned, on_revoked=on_revoked)
            while not assigned:
                await consumer.poll(100)
            assert await admin.group_is_active(group)
            with pytest.raises(BrokerError, match="live members"):
                await admin.alter_group_offsets(group, {TopicPartition(topic, 0): 0})
            await consumer.close()
            assert not await admin.group_is_active(group)
        finally:
            await transport.close()

    run(scenario())
