"""Helpers for the Kafka runtime tests: worker subprocesses on real Kafka, events, checks."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from tests.runtime.e2e import Worker as E2EWorker
from tests.runtime.e2e import produce, read_all, run

APPS = Path(__file__).parent / "apps"


class Worker(E2EWorker):
    """`python -m streamz_kit run APP --broker kafka://...` in a subprocess."""

    def __init__(
        self,
        app: str,
        broker: str,
        env: dict[str, str],
        log_path: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        app_path = app if "/" in app else str(APPS / app)
        if "KR_STATE_DIR" in env:
            # --broker on the command line resets the App's state_dir to the default, so
            # each worker names its own (two workers must never share one).
            extra_args = ("--state-dir", env["KR_STATE_DIR"], *extra_args)
        super().__init__(app_path, env, log_path, ("--broker", broker, *extra_args))

    def running_tasks(self) -> list[str] | None:
        """Tasks named by the last assignment log line, None before the first."""
        found = re.findall(r"running tasks \[([^\]]*)\]", self.output())
        if not found:
            return None
        return [t.strip().strip("'") for t in found[-1].split(",") if t.strip()]

    def restored_counts(self) -> list[int]:
        return [
            int(n)
            for n in re.findall(r"Restored tasks .*?: (\d+) changelog records", self.output())
        ]


def events(start: int, n: int, users: int = 7) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"k{i % 10}", {"seq": i, "user": f"u{(i * 3) % users}"}) for i in range(start, start + n)
    ]


def produce_events(
    broker: str, topic: str, start: int, n: int, partitions: int, users: int = 7
) -> None:
    run(produce(broker, topic, events(start, n, users), partitions))


def copies(broker: str, prefix: str) -> list[int]:
    return [orjson.loads(v)["seq"] for _, v in run(read_all(broker, f"{prefix}-copies"))]


def latest_aggregates(broker: str, prefix: str) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for key, value in run(read_all(broker, f"{prefix}-seqs")):
        assert key is not None and value is not None
        agg = orjson.loads(value)
        user = key.decode()
        # Updates of one user come from one task in order; keep the largest set seen.
        if user not in latest or len(agg["seqs"]) >= len(latest[user]["seqs"]):
            latest[user] = agg
    return latest


def expected_seqs(n: int, users: int = 7) -> dict[str, set[int]]:
    want: dict[str, set[int]] = defaultdict(set)
    for _, v in events(0, n, users):
        want[v["user"]].add(v["seq"])
    return dict(want)


def complete(broker: str, prefix: str, n: int, users: int = 7) -> bool:
    """Every input's effect is present: all copies, and every user's seq set exact."""
    if set(copies(broker, prefix)) != set(range(n)):
        return False
    latest = latest_aggregates(broker, prefix)
    want = expected_seqs(n, users)
    return {u: set(a["seqs"]) for u, a in latest.items()} == want


def wait_for(predicate: Any, timeout: float, workers: list[Worker], what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    logs = "\n".join(f"--- {w.log_path.name}\n{w.output()[-2500:]}" for w in workers)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")
