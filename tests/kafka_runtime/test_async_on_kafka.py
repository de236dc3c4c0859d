"""Async operators on real Kafka: two workers, one SIGKILLed with calls in flight; the other
is revoked and reassigned (its own in-flight calls are awaited by the revocation's commit),
takes the dead one's partitions over, and under exactly_once the committed output holds
every record once, each key's records in input order."""

from __future__ import annotations

import signal
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from tests.kafka_runtime.helpers import Worker, produce_events, wait_for
from tests.kafka_runtime.test_workers_on_kafka import _env, _new_app
from tests.runtime.e2e import read_all, run
from tests.runtime.test_async_e2e import ended_calls, unfinished_calls

pytestmark = pytest.mark.kafka


def enriched(broker: str, prefix: str) -> list[tuple[str, int]]:
    out = []
    for key, value in run(read_all(broker, f"{prefix}-enriched")):
        assert key is not None and value is not None
        out.append((key.decode(), orjson.loads(value)["seq"]))
    return out


def test_sigkill_one_of_two_workers_with_calls_in_flight_exactly_once(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 2000
    prefix = _new_app(broker, partitions)
    logs = [tmp_path / f"calls{i}.log" for i in range(2)]
    workers = [
        Worker(
            "async_app.py",
            broker,
            _env(broker, prefix, tmp_path / f"s{i}", ASYNC_CALL_LOG=str(logs[i])),
            tmp_path / f"w{i}.log",
        )
        for i in range(2)
    ]
    try:
        wait_for(lambda: all(w.running_tasks() for w in workers), 60, workers, "assignment")
        produce_events(broker, f"{prefix}-events", 0, total, partitions)
        # Killed at a moment with calls running (each commit first awaits every call, so
        # between a commit's drain and the next poll none run).
        wait_for(
            lambda: ended_calls(logs[1]) >= 150 and bool(unfinished_calls(logs[1])),
            60,
            workers,
            "calls in flight on worker 1",
        )
        workers[1].stop(signal.SIGKILL)
        assert unfinished_calls(logs[1]), "no call was in flight on the killed worker"
        wait_for(
            lambda: len({s for _, s in enriched(broker, prefix)}) >= total,
            120,
            workers[:1],
            "every record enriched",
        )
        out = enriched(broker, prefix)
        assert sorted(s for _, s in out) == list(range(total)), "lost or duplicated output"
        per_key: dict[str, list[int]] = defaultdict(list)
        for key, seq in out:
            per_key[key].append(seq)
        for key, seqs in per_key.items():
            assert seqs == sorted(seqs), f"{key} out of input order: {seqs[:20]}"
    finally:
        for w in workers:
            if w.alive():
                w.stop(signal.SIGTERM)
