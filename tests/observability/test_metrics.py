"""/metrics scraped while an App runs: the counters move in step with the input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import streamz_kit as sk
from tests.observability.helpers import counts_topology, get, metric, wait_until
from tests.runtime.e2e import produce


def events(start: int, n: int) -> list[tuple[str, dict[str, str]]]:
    return [(f"k{i}", {"user": f"u{i % 5}"}) for i in range(start, start + n)]


async def scenario(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    await produce(broker, "events", events(0, 100), partitions=2)
    app = sk.App(
        counts_topology(),
        application_id="obs",
        broker=broker,
        state_dir=tmp_path / "state",
        commit_interval_ms=30,
        metrics_port=0,
    )
    await app.start()
    try:
        assert app.observability is not None
        url = app.observability.endpoints["metrics"]
        assert url is not None
        # Every event is processed twice: once at the source, once after the repartition.
        await wait_until(lambda: app.metrics()["records_processed"] >= 200, what="first 100")
        status, body, ctype = await get(url)
        assert status == 200 and ctype.startswith("text/plain")
        text = body.decode()
        assert metric(text, "streamz_records_processed_total", app="obs") == 200
        per_task = [
            metric(text, "streamz_task_records_processed_total", task=t)
            for t in ("0_0", "0_1", "1_0", "1_1")
        ]
        assert sum(n or 0 for n in per_task) == 200
        assert metric(text, "streamz_app_state", state="RUNNING") == 1
        first_batches = metric(text, "streamz_batch_processing_seconds_count")
        assert first_batches is not None and first_batches >= 1
        assert (metric(text, "streamz_e2e_latency_seconds_count") or 0) >= 1
        store_entries = sum(
            metric(text, "streamz_store_entries", task=t, store="counts") or 0
            for t in ("1_0", "1_1")
        )
        assert store_entries == 5
        await wait_until(lambda: app.metrics()["commits"] >= 1, what="a commit")

        await produce(broker, "events", events(100, 60), partitions=2)
        await wait_until(lambda: app.metrics()["records_processed"] >= 320, what="60 more")
        text = (await get(url))[1].decode()
        assert metric(text, "streamz_records_processed_total", app="obs") == 320
        assert (metric(text, "streamz_batch_processing_seconds_count") or 0) > first_batches
        assert (metric(text, "streamz_commits_total", app="obs") or 0) >= 1
        # The record cache collapses repeated updates of the 5 users between commits.
        puts = sum(
            metric(text, "streamz_record_cache_puts_total", task=t) or 0 for t in ("1_0", "1_1")
        )
        assert puts == 160

        # Lag per input partition, refreshed off the hot path, reaches zero once caught up.
        await wait_until(lambda: len(app.metrics()["lag"]) == 4, what="lag refresh")
        text = (await get(url))[1].decode()
        assert metric(text, "streamz_consumer_lag", partition="events-0") == 0
        assert metric(text, "streamz_consumer_lag_total") == 0

        snap = app.metrics()
        for key in (
            "state",
            "records_processed",
            "commits",
            "last_commit_ms",
            "restored_records",
            "tasks",
        ):
            assert key in snap
        assert snap["tasks"] == ["0_0", "0_1", "1_0", "1_1"]
        assert snap["late_records_dropped"] == 0 and snap["dead_lettered"] == 0
    finally:
        await app.stop()
    assert app.metrics()["state"] == "STOPPED"


def test_metrics_move_in_step_with_input(tmp_path: Path) -> None:
    asyncio.run(scenario(tmp_path))


def test_no_servers_unless_asked(tmp_path: Path) -> None:
    async def go() -> None:
        broker = f"embedded://{tmp_path / 'log'}"
        await produce(broker, "events", events(0, 1), partitions=1)
        app = sk.App(
            counts_topology(), application_id="quiet", broker=broker, state_dir=tmp_path / "state"
        )
        await app.start()
        try:
            assert app.observability is not None
            assert app.observability.endpoints == {"http": None, "metrics": None}
            assert app.metrics()["state"] == "RUNNING"
        finally:
            await app.stop()

    asyncio.run(go())


def test_restoration_progress_and_rates_from_counters() -> None:
    """Restore progress comes from the task manager's `restore_progress` entries when the
    runtime provides them; rates are deltas of counters between reads."""
    from types import SimpleNamespace

    from streamz_kit.observability.snapshot import RateMeter, _restoration
    from streamz_kit.runtime.task_manager import CommitStats

    manager = SimpleNamespace(
        stats=CommitStats(restored_records=10),
        restoring={"0_1", "0_2"},
        restore_progress={"0_1": SimpleNamespace(done=250, total=1000)},
    )
    got = _restoration(manager)
    assert got["restoring"] == {
        "0_1": {"restored": 250, "total": 1000},
        "0_2": {"restored": None, "total": None},
    }
    assert got["restored_records"] == 10

    meter = RateMeter()
    assert meter.update("x", 100, now=10.0) == 0.0
    assert meter.update("x", 100, now=10.2) == 0.0  # too soon to measure: keep the last rate
    assert meter.update("x", 400, now=11.0) == 300.0
    assert meter.update("x", 400, now=12.0) == 0.0
