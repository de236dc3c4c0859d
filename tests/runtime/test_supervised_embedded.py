"""`streamz-kit run APP --workers 2` on the embedded log: the workers share the group's
partitions through leases in the log; SIGKILL one, the supervisor restarts it, the dead
member's lease runs out and its partitions move on: 0 lost, exact results under exactly_once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicSpec
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
from tests.runtime.e2e import run


def _members(broker: str, group: str) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        transport = connect(broker)
        await transport.start()
        try:
            return transport.admin().group_members(group)  # type: ignore[attr-defined,no-any-return]
        finally:
            await transport.close()

    return run(go())  # type: ignore[no-any-return]


def _pids(sup: Worker) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for index, pid in re.findall(r"worker (\d+) is pid (\d+)", sup.output()):
        found.setdefault(int(index), []).append(int(pid))
    return found


def _create(broker: str, topic: str, partitions: int) -> None:
    async def create() -> None:
        transport = connect(broker)
        await transport.start()
        try:
            await transport.admin().create_topics([TopicSpec(topic, partitions)])
        finally:
            await transport.close()

    run(create())


def _check_exact(broker: str, prefix: str, total: int) -> None:
    seqs = copies(broker, prefix)
    assert sorted(seqs) == list(range(total)), "a copy was lost or duplicated"
    want = expected_seqs(total)
    for user, agg in latest_aggregates(broker, prefix).items():
        assert agg["n"] == len(want[user]), (user, agg["n"])  # no update counted twice


def _shared(broker: str, prefix: str) -> bool:
    members = _members(broker, prefix)
    return len(members) == 2 and all(m["partitions"] for m in members)


def test_two_workers_share_the_embedded_log_and_survive_a_sigkill(tmp_path: Path) -> None:
    broker, partitions, total, prefix = f"embedded://{tmp_path / 'log'}", 4, 4000, "emb"
    _create(broker, f"{prefix}-events", partitions)
    env = {
        "KR_BROKER": broker,
        "KR_PREFIX": prefix,
        "KR_STATE_DIR": str(tmp_path / "state"),
        "KR_GUARANTEE": "exactly_once",
        "KR_COMMIT_MS": "100",
    }
    sup = Worker("seq_app.py", broker, env, tmp_path / "supervisor.log", ("--workers", "2"))
    try:
        wait_for(lambda: _shared(broker, prefix), 60, [sup], "both workers to hold partitions")
        held = [p for m in _members(broker, prefix) for p in m["partitions"]]  # type: ignore[attr-defined]
        assert len(held) == len(set(held)), held  # each partition has one owner
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: len(copies(broker, prefix)) >= total // 4, 60, [sup], "progress")
        first = _pids(sup)
        # `status` shows each worker by index and pid, and which one holds each partition.
        shown = ""

        def status_shows_owners() -> bool:
            nonlocal shown
            shown = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "streamz_kit",
                    "status",
                    str(APPS / "seq_app.py"),
                    "--broker",
                    broker,
                    "--state-dir",
                    str(tmp_path / "state"),
                ],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout
            return all(
                f"worker {i} (pid {first[i][0]})" in shown and f"worker-{i}-{first[i][0]}" in shown
                for i in (0, 1)
            )

        wait_for(status_shows_owners, 30, [sup], "status to show both workers and owners")
        assert re.search(rf"{prefix}-events-1 .* worker-\d-\d+", shown), shown
        os.kill(first[1][0], signal.SIGKILL)
        wait_for(lambda: len(_pids(sup).get(1, [])) == 2, 30, [sup], "worker 1's restart")
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total), 90, [sup], "every input")
        _check_exact(broker, prefix, total)
        assert sup.stop(signal.SIGTERM, timeout=60) == 0, sup.output()[-3000:]
        assert _members(broker, prefix) == []  # both left the group on the clean stop
    finally:
        if sup.alive():
            sup.stop(signal.SIGTERM, timeout=60)


def test_a_stalled_worker_loses_its_lease_and_is_fenced(tmp_path: Path) -> None:
    """SIGSTOP one worker past its lease: the other takes every partition and finishes the
    input; woken up, the stale one's transactions are fenced and it rejoins: no duplicate."""
    broker, partitions, total, prefix = f"embedded://{tmp_path / 'log'}", 4, 2000, "zmb"
    _create(broker, f"{prefix}-events", partitions)
    env = {
        "KR_BROKER": broker,
        "KR_PREFIX": prefix,
        "KR_STATE_DIR": str(tmp_path / "state"),
        "KR_GUARANTEE": "exactly_once",
        "KR_COMMIT_MS": "100",
    }
    sup = Worker("seq_app.py", broker, env, tmp_path / "supervisor.log", ("--workers", "2"))
    stalled = 0
    try:
        wait_for(lambda: _shared(broker, prefix), 60, [sup], "both workers to hold partitions")
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: len(copies(broker, prefix)) >= total // 4, 60, [sup], "progress")
        stalled = _pids(sup)[1][0]
        os.kill(stalled, signal.SIGSTOP)
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)

        def alone() -> bool:
            members = _members(broker, prefix)
            return len(members) == 1 and len(members[0]["partitions"]) == 2 * partitions  # type: ignore[arg-type]

        wait_for(alone, 60, [sup], "worker 0 to take over the stalled worker's partitions")
        wait_for(lambda: complete(broker, prefix, total), 60, [sup], "every input")
        os.kill(stalled, signal.SIGCONT)
        stalled = 0
        wait_for(lambda: _shared(broker, prefix), 60, [sup], "the woken worker to rejoin")
        _check_exact(broker, prefix, total)
        assert len(_pids(sup)[1]) == 1  # it was never restarted: it stalled, then rejoined
        assert sup.stop(signal.SIGTERM, timeout=60) == 0, sup.output()[-3000:]
    finally:
        if stalled:
            os.kill(stalled, signal.SIGCONT)
        if sup.alive():
            sup.stop(signal.SIGTERM, timeout=60)
