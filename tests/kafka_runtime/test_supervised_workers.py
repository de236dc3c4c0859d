"""`streamz-kit run APP --workers 2` on the session's real Kafka broker: one command, two
group members; a SIGKILLed worker is restarted by the supervisor, nothing lost or doubled."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kafka_runtime.helpers import (
    APPS,
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


def _pids(sup: Worker) -> dict[int, list[int]]:
    """Every pid the supervisor printed for each worker index, in order."""
    found: dict[int, list[int]] = {}
    for index, pid in re.findall(r"worker (\d+) is pid (\d+)", sup.output()):
        found.setdefault(int(index), []).append(int(pid))
    return found


def _status(broker: str, env: dict[str, str], state: Path) -> str:
    """What `streamz-kit status` prints about the app right now."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamz_kit",
            "status",
            str(APPS / "seq_app.py"),
            "--broker",
            broker,
            "--state-dir",
            str(state),
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout + done.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_supervised_workers_survive_a_sigkill_exactly_once(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 4000
    prefix = _new_app(broker, partitions)
    env = _env(broker, prefix, tmp_path / "state", KR_GUARANTEE="exactly_once", KR_COMMIT_MS="100")
    sup = Worker("seq_app.py", broker, env, tmp_path / "supervisor.log", ("--workers", "2"))
    try:
        wait_for(
            lambda: len(re.findall(r"running tasks \[[^\]]+\]", sup.output())) >= 2,
            60,
            [sup],
            "both workers to run tasks",
        )
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: len(copies(broker, prefix)) >= total // 4, 60, [sup], "progress")
        first = _pids(sup)
        assert sorted(first) == [0, 1] and all(len(p) == 1 for p in first.values()), first
        # `status` names each worker by index and pid, with the tasks it owns.
        shown = ""

        def status_shows_both() -> bool:
            nonlocal shown
            shown = _status(broker, env, tmp_path / "state")
            # ...and the tasks worker 1 owns (its snapshot is refreshed every tick).
            return (
                "2 worker(s) running" in shown
                and all(f"worker {i} (pid {first[i][0]})" in shown for i in (0, 1))
                and re.search(r"worker 1 \(pid \d+\)\s+│\s+\d_\d", shown) is not None
            )

        wait_for(status_shows_both, 30, [sup], "status to show both workers and their tasks")
        os.kill(first[1][0], signal.SIGKILL)
        wait_for(lambda: len(_pids(sup).get(1, [])) == 2, 30, [sup], "worker 1's restart")
        assert "worker 1 died (signal SIGKILL)" in sup.output()
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total), 120, [sup], "every input")
        seqs = copies(broker, prefix)
        assert sorted(seqs) == list(range(total)), "a copy was lost or duplicated"
        want = expected_seqs(total)
        for user, agg in latest_aggregates(broker, prefix).items():
            assert agg["n"] == len(want[user]), (user, agg["n"])  # no update counted twice
        # Each worker kept its own state directory; the restarted one reused worker-1.
        assert sorted(p.name for p in (tmp_path / "state").glob("worker-*")) == [
            "worker-0",
            "worker-1",
        ]
        pids = [p[-1] for p in _pids(sup).values()]
        assert sup.stop(signal.SIGTERM, timeout=60) == 0, sup.output()[-3000:]
        out = sup.output()
        assert "worker 0 stopped (exit code 0)" in out and "worker 1 stopped (exit code 0)" in out
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids), "a worker outlived its supervisor"
    finally:
        if sup.alive():
            sup.stop(signal.SIGTERM, timeout=60)
