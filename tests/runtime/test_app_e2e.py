"""End to end on the embedded broker: a worker subprocess, stopped and killed mid-stream."""

from __future__ import annotations

import signal
import struct
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pytest

from tests.runtime.e2e import Worker, produce, read_all, run, wait_for

USERS = [f"u{i}" for i in range(7)]


def events(start: int, n: int) -> list[tuple[str, dict[str, object]]]:
    return [
        (f"k{i % 5}", {"seq": i, "user": USERS[(i * 3) % len(USERS)]})
        for i in range(start, start + n)
    ]


def count_updates(broker: str) -> dict[str, list[int]]:
    updates: dict[str, list[int]] = defaultdict(list)
    for key, value in run(read_all(broker, "counts")):
        assert key is not None and value is not None
        updates[key.decode()].append(struct.unpack(">q", value)[0])
    return updates


def expected_counts(n: int) -> Counter[str]:
    return Counter(v["user"] for _, v in events(0, n))


def copies(broker: str) -> list[int]:
    return [orjson.loads(v)["seq"] for _, v in run(read_all(broker, "copies"))]


def running(worker: Worker) -> None:
    """Wait until the worker runs its tasks: a signal that comes while the process is still
    importing its app ends it before the App installs its handlers."""
    wait_for(lambda: "running tasks" in worker.output(), 60, worker, "the worker to run its tasks")


def env_for(broker: str, guarantee: str, cache_bytes: int = 10 * 1024 * 1024) -> dict[str, str]:
    return {
        "E2E_BROKER": broker,
        "E2E_GUARANTEE": guarantee,
        "E2E_COMMIT_MS": "50",
        "E2E_CACHE_BYTES": str(cache_bytes),
    }


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_sigterm_restart_loses_nothing(tmp_path: Path, guarantee: str) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    run(produce(broker, "events", events(0, 300), partitions=3))
    worker = Worker("count_app.py", env_for(broker, guarantee), tmp_path / "w1.log")
    wait_for(lambda: len(copies(broker)) >= 300, 60, worker, "the first 300 copies")
    assert worker.stop(signal.SIGTERM) == 0, worker.output()
    run(produce(broker, "events", events(300, 200), partitions=3))
    worker = Worker("count_app.py", env_for(broker, guarantee), tmp_path / "w2.log")
    want = expected_counts(500)
    wait_for(
        lambda: {u: c[-1] for u, c in count_updates(broker).items()} == dict(want),
        60,
        worker,
        "final counts",
    )
    assert worker.stop(signal.SIGTERM) == 0, worker.output()
    seqs = copies(broker)
    # A clean stop commits everything, so even at_least_once has no duplicate here.
    assert sorted(seqs) == list(range(500))
    for user, updates in count_updates(broker).items():
        # The record cache forwards a key once per commit: updates strictly increase
        # (nothing repeated) and end at the true count.
        assert updates == sorted(set(updates)) and updates[-1] == want[user], (user, updates)


def test_sigkill_mid_stream_exactly_once_no_loss_no_duplicate(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    total, chunk = 6000, 1500
    # Cache off: every single update must appear exactly once across three SIGKILLs.
    env = env_for(broker, "exactly_once", cache_bytes=0)
    run(produce(broker, "events", [], partitions=3))  # the topic, empty
    for round_ in range(3):
        worker = Worker("count_app.py", env, tmp_path / f"w{round_}.log")
        running(worker)
        # The input arrives while the worker runs, so each kill lands mid-stream (with all
        # of it produced up front, a fast machine finished before the first kill).
        run(produce(broker, "events", events(round_ * chunk, chunk), partitions=3))
        target = round_ * chunk + chunk // 3
        wait_for(
            lambda target=target: len(copies(broker)) >= target, 60, worker, f"{target} copies"
        )
        worker.stop(signal.SIGKILL)
    run(produce(broker, "events", events(3 * chunk, total - 3 * chunk), partitions=3))
    worker = Worker("count_app.py", env, tmp_path / "final.log")
    running(worker)
    want = expected_counts(total)
    wait_for(lambda: len(copies(broker)) >= total, 90, worker, "all copies")
    wait_for(
        lambda: {u: c[-1] for u, c in count_updates(broker).items()} == dict(want),
        60,
        worker,
        "final counts",
    )
    assert worker.stop(signal.SIGTERM) == 0, worker.output()
    seqs = copies(broker)
    assert len(seqs) == total and sorted(seqs) == list(range(total)), "loss or duplicate"
    for user, updates in count_updates(broker).items():
        assert updates == list(range(1, want[user] + 1)), (user, updates[:20])
