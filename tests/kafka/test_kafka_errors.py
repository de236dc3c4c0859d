"""Failure modes of the Kafka adapter: unreachable or frozen broker, bad config."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from kafka_helpers import run

from interop.kafka_broker import KafkaBroker
from streamz_kit.errors import BrokerError, ConfigError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import ProducerRecord

pytestmark = pytest.mark.kafka


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_broker_gives_broker_error_within_the_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    servers = f"127.0.0.1:{_closed_port()}"
    secret = "hunter2-do-not-print"

    async def scenario() -> None:
        transport = KafkaTransport(
            servers, connect_timeout_s=1.5, sasl_plain_username="app", sasl_plain_password=secret
        )
        try:
            await transport.start()
        finally:
            await transport.close()

    started = time.monotonic()
    with (
        caplog.at_level(logging.WARNING, logger="streamz_kit.transport.kafka"),
        pytest.raises(BrokerError) as info,
    ):
        run(scenario())
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 6, elapsed
    message = str(info.value)
    assert servers in message and "connect_timeout_s" in message
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert secret not in message and secret not in caplog.text
    assert secret not in repr(KafkaTransport(servers, sasl_plain_password=secret))


def test_unreachable_broker_fails_consumer_and_producer_too() -> None:
    servers = f"127.0.0.1:{_closed_port()}"

    async def scenario() -> None:
        transport = KafkaTransport(servers, connect_timeout_s=0.5)
        try:
            with pytest.raises(BrokerError, match="consumer"):
                await transport.consumer(group_id="g").poll(10)
            producer = transport.producer()
            producer.send(ProducerRecord("t", 0, b"k", b"v", 0))
            with pytest.raises(BrokerError, match="producer"):
                await producer.flush()
        finally:
            await transport.close()

    run(scenario())


def test_frozen_broker_does_not_hang_the_connect(kafka_broker: KafkaBroker | None) -> None:
    """A SIGSTOPped broker accepts TCP connections but never answers. (The session's broker
    is frozen for two seconds; tests run one at a time, so no other test notices.)"""
    if kafka_broker is None:
        pytest.skip("STREAMZ_KAFKA_BOOTSTRAP names an external broker, which we cannot freeze")
    broker = kafka_broker
    try:
        broker.pause()

        async def scenario() -> None:
            transport = KafkaTransport(broker.bootstrap, connect_timeout_s=1.5)
            try:
                await transport.start()
            finally:
                await transport.close()

        started = time.monotonic()
        with pytest.raises(BrokerError, match="Cannot reach Kafka"):
            run(scenario())
        assert time.monotonic() - started < 8
    finally:
        broker.resume()


def test_bad_client_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no_such_setting"):
        KafkaTransport("127.0.0.1:9092", no_such_setting=1)
    with pytest.raises(ConfigError, match="enable_auto_commit"):
        KafkaTransport("127.0.0.1:9092", enable_auto_commit=True)
    with pytest.raises(ConfigError, match="bootstrap"):
        KafkaTransport("")
    transport = KafkaTransport(
        "kafka://127.0.0.1:9092", group_instance_id="w1", security_protocol="PLAINTEXT"
    )
    assert transport.url == "kafka://127.0.0.1:9092"
