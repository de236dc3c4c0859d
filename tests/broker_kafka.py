"""pytest fixtures for real Apache Kafka: one broker JVM for the whole test session.

    def test_something(kafka_bootstrap: str) -> None:      # "127.0.0.1:PORT"
    def test_workers(kafka_url: str) -> None:              # "kafka://127.0.0.1:PORT"
    def test_faults(private_kafka: KafkaBroker) -> None:   # a broker of its own (pause/restart)

The session broker starts at the first test that asks for it (a few seconds; the first run
on a machine also downloads the jars from Maven Central). If it cannot start, every test
that needs it fails with the launcher's one-sentence reason: no silent skip. Set
STREAMZ_KAFKA_BOOTSTRAP=host:port to run the suite against a broker you started yourself
(`make kafka`); it needs transactions on one node (replication factors 1).

Tests share the broker, so every topic, group and transactional id must be unique per test
(`unique_name("prefix")`).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

from interop.kafka_broker import KafkaBroker, KafkaBrokerError

_FAILED: list[str] = []
# The session broker also has a SASL/PLAIN listener (kafka_sasl_bootstrap) with this login.
SASL_USERS = {"streamz": "streamz-test-secret"}


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start_broker(**kwargs: object) -> KafkaBroker:
    """Start a KafkaBroker, turning a start failure into a test failure with its sentence."""
    broker = KafkaBroker(**kwargs)  # type: ignore[arg-type]
    try:
        broker.start()
    except KafkaBrokerError as exc:
        broker.stop()
        pytest.fail(str(exc), pytrace=False)
    return broker


async def _warm_up(bootstrap: str) -> None:
    """Load the group and transaction coordinators once (they create __consumer_offsets and
    __transaction_state lazily, a few seconds each), so the first test's timeouts don't pay."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            try:
                await admin.find_coordinator("streamz-warm-up")
                break
            except KafkaError:  # the coordinator is still being created
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=unique_name("streamz-warm-up")
    )
    await producer.start()  # InitProducerId: the transaction coordinator is loaded
    await producer.stop()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker | None]:
    """The session's broker (None when STREAMZ_KAFKA_BOOTSTRAP names an external one)."""
    if os.environ.get("STREAMZ_KAFKA_BOOTSTRAP"):
        yield None
        return
    if _FAILED:
        pytest.fail(_FAILED[0], pytrace=False)
    try:
        broker = KafkaBroker(sasl_users=SASL_USERS)
        broker.start()
    except KafkaBrokerError as exc:
        _FAILED.append(str(exc))
        pytest.fail(str(exc), pytrace=False)
    try:
        asyncio.run(asyncio.wait_for(_warm_up(broker.bootstrap), 60))
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """ "127.0.0.1:PORT" of the session's Kafka broker."""
    if kafka_broker is None:
        return os.environ["STREAMZ_KAFKA_BOOTSTRAP"]
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def kafka_url(kafka_bootstrap: str) -> str:
    """`kafka://127.0.0.1:PORT`, the form App(broker=...) and --broker take."""
    return f"kafka://{kafka_bootstrap}"


@pytest.fixture
def private_kafka() -> Iterator[KafkaBroker]:
    """A broker for one test alone, for faults that would disturb others (pause, restart)."""
    broker = start_broker(heap_mb=512)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_sasl_bootstrap(kafka_broker: KafkaBroker | None) -> str:
    """ "127.0.0.1:PORT" of the session broker's SASL_PLAINTEXT listener (PLAIN, SASL_USERS)."""
    if kafka_broker is None:
        pytest.skip("STREAMZ_KAFKA_BOOTSTRAP names an external broker; its SASL setup is unknown")
    return kafka_broker.sasl_bootstrap
