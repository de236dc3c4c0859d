"""Cooperative rebalancing (`rebalance_protocol="cooperative"`, KIP-429) with worker
processes on real Kafka: a worker that joins or leaves moves only the tasks that change
owner; the others keep running (never revoked, never restored) and nothing is lost."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from tests.kafka_runtime.helpers import Worker, complete, produce_events, wait_for
from tests.kafka_runtime.test_workers_on_kafka import _all_tasks, _env, _new_app, _owned

pytestmark = pytest.mark.kafka


def _revoked(log: str) -> list[set[str]]:
    """The task sets of every revocation in a worker's log, in order."""
    return [
        {t.strip().strip("'") for t in found.split(",") if t.strip()}
        for found in re.findall(r"Revoked \d+ partitions; suspended tasks \[([^\]]*)\]", log)
    ]


def test_cooperative_rebalance_moves_only_the_tasks_that_change_owner(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 3000
    prefix = _new_app(broker, partitions)

    def start(i: int) -> Worker:
        env = _env(broker, prefix, tmp_path / f"state{i}", KR_PROTOCOL="cooperative")
        return Worker("seq_app.py", broker, env, tmp_path / f"w{i}.log")

    first = start(0)
    workers = [first]
    try:
        wait_for(lambda: first.running_tasks() == _all_tasks(partitions), 60, workers, "assignment")
        produce_events(broker, f"{prefix}-events", 0, total // 3, partitions)
        wait_for(lambda: complete(broker, prefix, total // 3), 60, workers, "the first third")

        # From here on (the start may have churned on a loaded machine: a session that
        # expires during the first restore makes the worker rejoin once).
        mark = len(first.output())
        second = start(1)
        workers.append(second)
        wait_for(
            lambda: bool(second.running_tasks()) and _owned(workers) == _all_tasks(partitions),
            60,
            workers,
            "the second worker to take its share",
        )
        moved = set(second.running_tasks() or [])
        kept = set(first.running_tasks() or [])
        assert moved and kept and not (moved & kept)
        # Only what moved was revoked on the first worker (eager revokes all eight tasks);
        # the kept tasks were never suspended nor restored again.
        since = first.output()[mark:]
        assert _revoked(since) == [moved], since[-3000:]
        assert "Restored tasks" not in since, since[-3000:]
        produce_events(broker, f"{prefix}-events", total // 3, total // 3, partitions)
        wait_for(lambda: complete(broker, prefix, 2 * total // 3), 60, workers, "the second third")

        # A clean leave: the first worker takes the tasks back without giving any up.
        assert second.stop(signal.SIGTERM) == 0, second.output()[-3000:]
        wait_for(
            lambda: first.running_tasks() == _all_tasks(partitions),
            60,
            workers,
            "the first worker to take everything back",
        )
        since = first.output()[mark:]
        assert _revoked(since) == [moved], since[-3000:]
        produce_events(
            broker, f"{prefix}-events", 2 * total // 3, total - 2 * total // 3, partitions
        )
        wait_for(lambda: complete(broker, prefix, total), 60, workers, "every input")
        assert first.alive()
    finally:
        for w in workers:
            if w.alive():
                w.stop(signal.SIGTERM)
