"""Broker faults on a broker of the test's own: frozen (SIGSTOP) for longer than the client
timeouts then resumed, or killed and restarted. Workers must ride it out and finish with
nothing lost."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from interop.kafka_broker import KafkaBroker
from tests.broker_kafka import start_broker
from tests.kafka_runtime.helpers import Worker, complete, produce_events, wait_for
from tests.kafka_runtime.test_workers_on_kafka import _env, _new_app

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def fault_kafka() -> Iterator[KafkaBroker]:
    """One broker of this module's own (one JVM start for both faults), never the session's."""
    broker = start_broker(heap_mb=512)
    try:
        yield broker
    finally:
        broker.stop()


def test_worker_survives_a_frozen_broker(fault_kafka: KafkaBroker, tmp_path: Path) -> None:
    """The broker is frozen (SIGSTOP) past the session and request timeouts, then resumed:
    the worker rides it out and processes every later input. When the resumed broker has
    expired the session, the lone worker rejoins and its first fetch of the new generation
    lands in the poll that ran the rebalance (issue 13's stall: those records were dropped
    and never read again; tests/kafka/test_kafka_group.py pins that case down)."""
    kafka = fault_kafka
    broker = f"kafka://{kafka.bootstrap}"
    partitions, total = 2, 1200
    try:
        prefix = _new_app(broker, partitions)
        worker = Worker(
            "seq_app.py",
            broker,
            # Short client timeouts so the pause outlasts them within a fast test.
            _env(broker, prefix, tmp_path / "state", KR_REQUEST_TIMEOUT_MS="4000"),
            tmp_path / "w.log",
        )
        try:
            wait_for(lambda: bool(worker.running_tasks()), 60, [worker], "the first assignment")
            produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
            wait_for(lambda: complete(broker, prefix, total // 2), 60, [worker], "first half")
            kafka.pause()
            time.sleep(12)  # longer than the session (6 s) and request (4 s) timeouts
            assert worker.alive(), worker.output()[-3000:]
            kafka.resume()
            produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
            wait_for(
                lambda: complete(broker, prefix, total), 90, [worker], "every input after the pause"
            )
            assert worker.alive()
        finally:
            if worker.alive():
                assert worker.stop(signal.SIGTERM) == 0, worker.output()[-3000:]
    finally:
        kafka.resume()


def test_workers_ride_out_a_broker_restart(fault_kafka: KafkaBroker, tmp_path: Path) -> None:
    """The broker is killed (SIGKILL) and started again on the same port and data while two
    workers run: they reconnect, rejoin and finish every input; nothing is lost."""
    kafka = fault_kafka
    broker = f"kafka://{kafka.bootstrap}"
    partitions, total = 4, 2000
    prefix = _new_app(broker, partitions)
    workers = [
        Worker(
            "seq_app.py",
            broker,
            _env(broker, prefix, tmp_path / f"state{i}"),
            tmp_path / f"w{i}.log",
        )
        for i in range(2)
    ]
    try:
        wait_for(lambda: all(w.running_tasks() for w in workers), 60, workers, "assignment")
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total // 2), 60, workers, "first half")
        kafka.restart(hard=True)
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(
            lambda: complete(broker, prefix, total), 120, workers, "every input after the restart"
        )
        assert all(w.alive() for w in workers), [w.output()[-2000:] for w in workers]
    finally:
        for w in workers:
            if w.alive():
                assert w.stop(signal.SIGTERM) == 0, w.output()[-3000:]
