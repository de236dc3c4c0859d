"""Topic configs on real Kafka: `streamz-kit topics --alter` sets one key and leaves the
others (IncrementalAlterConfigs, not the old whole-set AlterConfigs), deletes a key back to
the default, and a refused setting is one sentence naming the topic and the setting.
Read back with a raw DescribeConfigs request (the broker's own answer), not our reader."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import DescribeConfigsRequest
from click.testing import CliRunner
from kafka_helpers import run, unique

from streamz_kit.cli import main
from streamz_kit.errors import BrokerError, ConfigError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import TopicSpec

pytestmark = pytest.mark.kafka


async def _broker_configs(bootstrap: str, topic: str) -> dict[str, tuple[str, int]]:
    """Every config of the topic as Kafka describes it: name -> (value, source), where
    source 1 is DYNAMIC_TOPIC_CONFIG (set on the topic) and 5 the broker's default."""
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        response = await client._send_request(DescribeConfigsRequest([(2, topic, None)], False))
        [(code, _msg, _type, _name, entries)] = response.resources
        assert code == 0
        return {e[0]: (e[1], e[3]) for e in entries}
    finally:
        await client.close()


def test_alter_sets_one_config_and_keeps_the_others(kafka: str) -> None:
    topic = unique("altered")

    async def scenario() -> None:
        transport = KafkaTransport(kafka)
        admin = transport.admin()
        try:
            await admin.create_topics(
                [TopicSpec(topic, 1, {"cleanup.policy": "compact,delete", "retention.ms": "60000"})]
            )
            await admin.alter_topic_config(topic, {"retention.ms": "300000"})
            configs = await _broker_configs(kafka, topic)
            assert configs["retention.ms"] == ("300000", 1)
            # the old AlterConfigs would have reset this one to the default "delete"
            assert configs["cleanup.policy"] == ("compact,delete", 1)
            assert await admin.topic_configs([topic, unique("missing")]) == {
                topic: {"cleanup.policy": "compact,delete", "retention.ms": "300000"}
            }

            await admin.alter_topic_config(topic, {"retention.ms": None, "retention.bytes": "5000"})
            configs = await _broker_configs(kafka, topic)
            assert configs["retention.ms"][1] != 1  # back to the broker's default
            assert configs["retention.bytes"] == ("5000", 1)
            assert configs["cleanup.policy"] == ("compact,delete", 1)

            with pytest.raises(ConfigError, match=r"Topic '.*': retention.ms must be a whole"):
                await admin.alter_topic_config(topic, {"retention.ms": "5 minutes"})
            with pytest.raises(BrokerError) as refused:
                await admin.alter_topic_config(topic, {"max.message.bytes": "lots"})
            message = str(refused.value)
            assert message.startswith(
                f"Kafka refused to set max.message.bytes=lots on topic '{topic}': "
            ), message
            assert "max.message.bytes" in message.split(": ", 1)[1] and message.endswith("retry.")
            ghost = unique("ghost")
            with pytest.raises(BrokerError, match=f"Topic '{ghost}' does not exist"):
                await admin.alter_topic_config(ghost, {"retention.ms": "1000"})
            # a refused change changed nothing
            configs = await _broker_configs(kafka, topic)
            assert configs["retention.bytes"] == ("5000", 1)
            assert configs["max.message.bytes"][1] != 1
        finally:
            await admin.close()
            await transport.close()

    run(scenario(), timeout_s=60)


def test_cli_alter_on_kafka(kafka: str) -> None:
    topic = unique("cli-altered")
    broker = f"kafka://{kafka}"

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["topics", "--broker", broker, *args])
        return result.exit_code, result.output

    code, out = cli("--create", topic, "--config", "cleanup.policy=compact")
    assert code == 0, out
    code, out = cli("--alter", topic, "--config", "retention.ms=300000")
    assert code == 0 and out.strip() == f"Altered topic {topic}.", out
    configs = run(_broker_configs(kafka, topic))
    assert configs["retention.ms"] == ("300000", 1)
    assert configs["cleanup.policy"] == ("compact", 1)
    code, out = cli("--alter", topic, "--config", "retention.ms=-5")
    assert code == 1 and out.count("\n") == 1, out
    assert out.startswith(f"Error: Topic '{topic}': retention.ms must be at least -1")
    code, out = cli()
    assert code == 0, out
    [line] = [x for x in out.splitlines() if x.startswith(topic + "\t")]
    assert line.endswith("config: cleanup.policy=compact retention.ms=300000"), line
