"""SASL and TLS settings reach aiokafka, and SASL/PLAIN works against the real broker.

The session broker has a SASL_PLAINTEXT listener with one PLAIN login (tests/broker_kafka.py):
the right credentials produce and read back through the adapter; a wrong password is a
`BrokerError` that says what to check and never shows the password.
"""

from __future__ import annotations

import ssl

import pytest
from kafka_helpers import run, unique

from streamz_kit.errors import BrokerError
from streamz_kit.transport.kafka import KafkaTransport
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec
from tests.broker_kafka import SASL_USERS

pytestmark = pytest.mark.kafka

USER, PASSWORD = next(iter(SASL_USERS.items()))


def _sasl(bootstrap: str, password: str, **extra: object) -> KafkaTransport:
    return KafkaTransport(
        bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username=USER,
        sasl_plain_password=password,
        **extra,
    )


def test_sasl_plain_login_produces_and_reads(kafka_sasl_bootstrap: str) -> None:
    topic = unique("sasl")

    async def scenario() -> None:
        transport = _sasl(kafka_sasl_bootstrap, PASSWORD)
        try:
            await transport.start()
            await transport.admin().create_topics([TopicSpec(topic, 1)])
            producer = transport.producer()
            producer.send(ProducerRecord(topic, 0, b"k", b"over-sasl", 1))
            await producer.flush()
            consumer = transport.consumer(group_id=None)
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            got: list[bytes | None] = []
            for _ in range(20):
                for records in (await consumer.poll(500)).values():
                    got.extend(r.value for r in records)
                if got:
                    break
            assert got == [b"over-sasl"]
        finally:
            await transport.close()

    run(scenario(), timeout_s=60)


def test_wrong_sasl_password_is_a_broker_error_without_the_password(
    kafka_sasl_bootstrap: str,
) -> None:
    wrong = "not-the-password-123"

    async def scenario() -> None:
        # A refused login fails at once, not after connect_timeout_s of retries.
        transport = _sasl(kafka_sasl_bootstrap, wrong, connect_timeout_s=60)
        try:
            await transport.start()
        finally:
            await transport.close()

    with pytest.raises(BrokerError) as info:
        run(scenario(), timeout_s=60)
    message = str(info.value)
    assert wrong not in message
    assert "refused the login" in message and kafka_sasl_bootstrap in message, message
    assert "sasl_plain_password" in message  # says what to check


def test_tls_and_sasl_settings_reach_every_aiokafka_client() -> None:
    context = ssl.create_default_context()
    transport = KafkaTransport(
        "127.0.0.1:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="app",
        sasl_plain_password="pw",
        ssl_context=context,
        client_id="my-app",
    )
    settings = transport._settings
    wanted = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "app",
        "sasl_plain_password": "pw",
        "ssl_context": context,
    }
    for kwargs in (
        settings.admin_kwargs(),
        settings.consumer_kwargs(group_id="g"),
        settings.producer_kwargs(transactional_id="t"),
    ):
        assert {k: kwargs.get(k) for k in wanted} == wanted, kwargs
    assert "pw" not in repr(transport)
