"""exactly_once across worker processes on the session's real Kafka broker."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.kafka_runtime.helpers import (
    Worker,
    complete,
    copies,
    expected_seqs,
    latest_aggregates,
    produce_events,
    wait_for,
)
from tests.kafka_runtime.test_workers_on_kafka import _env, _new_app

pytestmark = pytest.mark.kafka


def test_sigkill_one_of_two_workers_no_loss_no_duplicate(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 4000
    prefix = _new_app(broker, partitions)
    workers = [
        Worker(
            "seq_app.py",
            broker,
            _env(
                broker, prefix, tmp_path / f"s{i}", KR_GUARANTEE="exactly_once", KR_COMMIT_MS="100"
            ),
            tmp_path / f"w{i}.log",
        )
        for i in range(2)
    ]
    try:
        wait_for(lambda: all(w.running_tasks() for w in workers), 60, workers, "assignment")
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: len(copies(broker, prefix)) >= total // 4, 60, workers, "progress")
        workers[1].stop(signal.SIGKILL)
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total), 120, workers, "every input")
        seqs = copies(broker, prefix)
        assert sorted(seqs) == list(range(total)), "a copy was lost or duplicated"
        want = expected_seqs(total)
        for user, agg in latest_aggregates(broker, prefix).items():
            assert agg["n"] == len(want[user]), (user, agg["n"])  # no update counted twice
    finally:
        for w in workers:
            if w.alive():
                w.stop(signal.SIGTERM)
