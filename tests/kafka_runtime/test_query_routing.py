"""Interactive queries across workers: any worker answers for any key (Kafka Streams'
queryMetadataForKey), forwarding to the worker that hosts the key's partition."""

from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.kafka_runtime.helpers import (
    Worker,
    complete,
    expected_seqs,
    produce_events,
    wait_for,
)
from tests.kafka_runtime.test_workers_on_kafka import _all_tasks, _env, _new_app, _owned

pytestmark = pytest.mark.kafka


def _endpoint(worker: Worker) -> str | None:
    found = re.findall(r"Serving queries on (http://[\d.]+:\d+)", worker.output())
    return found[-1] if found else None


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read() or b"{}")


def test_a_key_hosted_by_one_worker_is_answered_through_the_other(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 800
    prefix = _new_app(broker, partitions)
    workers = [
        Worker(
            "seq_app.py",
            broker,
            _env(broker, prefix, tmp_path / f"s{i}", KR_HTTP_PORT="0"),
            tmp_path / f"w{i}.log",
        )
        for i in range(2)
    ]
    try:
        wait_for(
            lambda: (
                _owned(workers) == _all_tasks(partitions)
                and all(w.running_tasks() for w in workers)
            ),
            60,
            workers,
            "two owners",
        )
        produce_events(broker, f"{prefix}-events", 0, total, partitions)
        wait_for(lambda: complete(broker, prefix, total), 60, workers, "every input")
        want = expected_seqs(total)
        endpoints = [_endpoint(w) for w in workers]
        assert all(endpoints), [w.output()[-2000:] for w in workers]
        local_hits = {0: 0, 1: 0}
        for i, endpoint in enumerate(endpoints):
            for user, seqs in want.items():
                status, body = _get(f"{endpoint}/stores/per-user/{user}")
                assert status == 200, (endpoint, user, body)
                assert set(body["value"]["seqs"]) == seqs
                # Would this worker have answered on its own? (local=1 forbids forwarding)
                status, _ = _get(f"{endpoint}/stores/per-user/{user}?local=1")
                local_hits[i] += status == 200
        # Each worker hosts only part of the keys, yet answered for all of them.
        assert 0 < local_hits[0] < len(want) and 0 < local_hits[1] < len(want), local_hits
        assert local_hits[0] + local_hits[1] == len(want)
    finally:
        for w in workers:
            if w.alive():
                w.stop(signal.SIGTERM)
