"""Crash injection on real Kafka: three workers of a repartition + join + aggregation app,
under exactly_once, SIGKILLed over and over while orders are fed (kafka_crash.py says how).

A read_committed reader then sees every order's effect exactly once: 0 lost, 0 duplicated
in the enriched and joined outputs, and both aggregation tables (output topics and
changelogs) equal to the plain-Python reference. STREAMZ_CRASH_SEED replays a schedule;
--runslow runs a larger one. Figures: docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.kafka_runtime.kafka_crash import KafkaCrashDriver

pytestmark = pytest.mark.kafka

SEED = int(os.environ.get("STREAMZ_CRASH_SEED", "13"))


def _run(
    kafka_url: str,
    tmp: Path,
    *,
    records: int,
    kills: int,
    workers: int,
    guarantee: str = "exactly_once",
    seed: int = SEED,
) -> KafkaCrashDriver:
    driver = KafkaCrashDriver(
        kafka_url,
        tmp,
        guarantee=guarantee,
        records=records,
        kills=kills,
        workers=workers,
        seed=seed,
        static_slots=1,
    )
    try:
        driver.run()
        driver.finish()
    finally:
        driver.stop()
    return driver


def _assert_exact(driver: KafkaCrashDriver) -> None:
    report = driver.check()
    print("\n" + report.summary())
    assert report.kills >= driver.kill_target, report.summary()
    assert report.lost == 0 and report.duplicates == 0, report.summary()
    assert report.joined_lost == 0 and report.joined_duplicates == 0, report.summary()
    assert report.totals_exact, report.summary() + "\n" + driver.tail_logs()


def test_exactly_once_survives_sigkills_of_three_workers(kafka_url: str, tmp_path: Path) -> None:
    _assert_exact(_run(kafka_url, tmp_path, records=6_000, kills=22, workers=3))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_exactly_once_survives_sigkills_of_three_workers_large(
    kafka_url: str, tmp_path: Path
) -> None:
    _assert_exact(_run(kafka_url, tmp_path, records=60_000, kills=80, workers=3, seed=SEED + 1))


def _tasks_of(worker_log: str) -> list[str] | None:
    found = re.findall(r"running tasks \[([^\]]*)\]", worker_log)
    if not found:
        return None
    return [t.strip().strip("'") for t in found[-1].split(",") if t.strip()]


def test_zombie_frozen_past_its_session_timeout_is_fenced_and_rejoins(
    kafka_url: str, tmp_path: Path
) -> None:
    """A worker frozen (SIGSTOP) mid-stream for longer than its session timeout loses its
    tasks to the other worker, whose producers fence it. Resumed, its commit fails, it says
    so in one line, rejoins and gets tasks again; outputs stay exact."""
    records = 3_000
    driver = KafkaCrashDriver(
        kafka_url,
        tmp_path,
        guarantee="exactly_once",
        records=records,
        kills=0,
        workers=2,
        seed=SEED,
        static_slots=0,
    )
    # The zombie commits rarely, so whenever it is frozen it holds processed, uncommitted
    # records: an open transaction's worth of work that must never reach the outputs.
    driver.slot_env[0] = {"KE_COMMIT_MS": "5000"}
    try:
        driver.setup()
        zombie, other = driver.slots
        assert zombie is not None and other is not None
        deadline = time.monotonic() + 60
        while not (_tasks_of(zombie.output()) and _tasks_of(other.output())):
            assert time.monotonic() < deadline, driver.tail_logs()
            driver.produce_upto(driver.produced + 20)
            time.sleep(0.1)
        # Busy when frozen: records keep coming, so it holds uncommitted work.
        for _ in range(10):
            driver.produce_upto(driver.produced + 30)
            time.sleep(0.05)
        zombie.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        all_tasks = 12  # three sub-topologies, four partitions
        while len(_tasks_of(other.output()) or []) < all_tasks or time.monotonic() - frozen_at < 4:
            assert time.monotonic() - frozen_at < 60, driver.tail_logs()
            driver.produce_upto(driver.produced + 20)
            time.sleep(0.1)
        # The survivor has produced under every task's transactional id since: fenced.
        driver.produce_upto(driver.produced + 200)
        time.sleep(1.0)
        before = zombie.output()
        zombie.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 60
        while True:
            after = zombie.output()[len(before) :]
            if "were fenced" in after and _tasks_of(after.rsplit("were fenced", 1)[-1]):
                break  # it said so, rejoined, and runs tasks again
            assert time.monotonic() < deadline and zombie.alive(), driver.tail_logs(2)
            driver.produce_upto(driver.produced + 20)
            time.sleep(0.1)
        time.sleep(1.0)
        after = zombie.output()[len(before) :]
        fenced_lines = [line for line in after.splitlines() if "fenced" in line]
        assert len(fenced_lines) == 1, fenced_lines
        assert "Traceback" not in after, after[-3000:]
        driver.produce_upto(records)
        driver.finish()
    finally:
        driver.stop()
    report = driver.check()
    print("\n" + report.summary())
    assert report.lost == 0 and report.duplicates == 0, report.summary()
    assert report.joined_lost == 0 and report.joined_duplicates == 0, report.summary()
    assert report.totals_exact, report.summary()
