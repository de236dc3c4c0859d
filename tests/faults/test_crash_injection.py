"""Crash injection: SIGKILL the worker again and again; the results must not notice.

A stateful topology (repartition, a stream-table join, an aggregation, a table re-grouped
into a second aggregation through another repartition topic; see apps/crash_app.py) runs on the embedded
broker while a seeded driver (crash_driver.py) kills it at random moments, during start-up,
restoration, processing and commit. After the last restart:
- exactly_once: the read_committed output equals the plain-Python reference exactly (no loss,
  no duplicate), and both tables (update topics, changelogs and the local stores) equal it;
- at_least_once: nothing is lost; duplicates are allowed, counted and printed.
STREAMZ_CRASH_SEED replays a run; --runslow (or STREAMZ_RUNSLOW=1) runs a few hundred
thousand records.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults import model
from tests.faults.crash_driver import (
    CrashDriver,
    CrashReport,
    enriched,
    expected_enriched,
    joined,
    last_values,
    store_contents,
)

RUNTIME = Path(__file__).resolve().parents[2] / "streamz_kit" / "runtime"


def _hook_wired(prefix: str) -> bool:
    """Whether the runtime calls the crash hook at points starting with `prefix`."""
    return any(f'maybe_crash("{prefix}' in f.read_text() for f in RUNTIME.glob("*.py"))


def _check_hook_kills(driver: CrashDriver, report: CrashReport) -> None:
    """Once the runtime calls the hook, some kills must have landed in commit and restore."""
    for prefix in ("commit:", "restore:"):
        if _hook_wired(prefix):
            assert any(p.startswith(prefix) for p in report.hook_points), report.summary()


SEED = int(os.environ.get("STREAMZ_CRASH_SEED", "7"))
CI = {"records": 24_000, "kills": 21}
SLOW = {"records": 300_000, "kills": 40}


def _drive(
    tmp: Path, guarantee: str, size: dict[str, int], seed: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[CrashDriver, CrashReport]:
    driver = CrashDriver(tmp, guarantee, records=size["records"], kills=size["kills"], seed=seed)
    monkeypatch.setenv("CRASH_BROKER", driver.broker)
    monkeypatch.setenv("CRASH_GUARANTEE", guarantee)
    return driver, driver.run()


def _check_exactly_once(driver: CrashDriver, report: CrashReport) -> None:
    ref = model.Reference(driver.records)
    got = enriched(driver.broker)
    want = expected_enriched(driver.records)
    report.enriched_records = sum(got.values())
    report.lost = sum((want - got).values())
    report.duplicates = sum((got - want).values())
    got_joined = joined(driver.broker)
    report.joined_lost = sum((ref.joined - got_joined).values())
    report.joined_duplicates = sum((got_joined - ref.joined).values())
    print("\n" + report.summary())
    assert report.kills >= driver.kill_target
    assert report.lost == 0 and report.duplicates == 0, report.summary()
    _check_hook_kills(driver, report)
    assert got == want
    assert got_joined == ref.joined
    assert last_values(driver.broker, "user-totals-out") == ref.user_totals
    assert last_values(driver.broker, "region-totals-out") == ref.region_totals
    assert last_values(driver.broker, "crash-user-totals-changelog", 8) == ref.user_totals
    assert last_values(driver.broker, "crash-region-totals-changelog", 8) == ref.region_totals
    stores = store_contents(driver.broker, ["user-totals", "region-totals", "profiles"])
    assert stores["profiles"] == dict(model.profiles())
    assert stores["user-totals"] == ref.user_totals
    assert stores["region-totals"] == ref.region_totals


def _check_at_least_once(driver: CrashDriver, report: CrashReport) -> None:
    ref = model.Reference(driver.records)
    got = enriched(driver.broker)
    want = expected_enriched(driver.records)
    report.enriched_records = sum(got.values())
    report.lost = sum((want - got).values())
    report.duplicates = sum((got - want).values())
    got_joined = joined(driver.broker)
    report.joined_lost = sum((ref.joined - got_joined).values())
    report.joined_duplicates = sum((got_joined - ref.joined).values())
    print("\n" + report.summary())
    assert report.kills >= driver.kill_target
    assert report.lost == 0 and report.joined_lost == 0, report.summary()
    _check_hook_kills(driver, report)
    assert set(got) == set(want) and set(got_joined) == set(ref.joined)
    # A replayed record is counted again by the aggregation, so each total is at least
    # the reference (never less: that would be loss), and the tables cover every key.
    for name, reference in (
        ("user-totals-out", ref.user_totals),
        ("region-totals-out", ref.region_totals),
    ):
        table = last_values(driver.broker, name)
        assert set(table) == set(reference), name
        short = {
            k: (table[k], v)
            for k, v in reference.items()
            if table[k]["n"] < v["n"] or table[k]["sum"] < v["sum"]
        }
        assert not short, f"{name} lost updates: {short}"


def test_exactly_once_survives_sigkills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    driver, report = _drive(tmp_path, "exactly_once", CI, SEED, monkeypatch)
    _check_exactly_once(driver, report)


def test_at_least_once_survives_sigkills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    driver, report = _drive(tmp_path, "at_least_once", CI, SEED + 1, monkeypatch)
    _check_at_least_once(driver, report)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_exactly_once_survives_sigkills_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, report = _drive(tmp_path, "exactly_once", SLOW, SEED + 2, monkeypatch)
    _check_exactly_once(driver, report)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_at_least_once_survives_sigkills_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, report = _drive(tmp_path, "at_least_once", SLOW, SEED + 3, monkeypatch)
    _check_at_least_once(driver, report)
