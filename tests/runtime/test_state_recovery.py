"""State that recovers: tail-only restore, full rebuild, corrupt files, the record cache, reset."""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import InvalidStateStoreError
from streamz_kit.reset import reset_application
from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicPartition
from tests.runtime.e2e import produce, read_all


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .group_by(lambda k, v: v["user"])
        .count(materialized=sk.Materialized("counts"))
        .to_stream()
        .to("counts-out", value_serde=serdes.LONG)
    )
    return builder.build()


def events(start: int, n: int, users: int = 50) -> list[tuple[str, dict[str, Any]]]:
    """Event i is the same whichever slice it is produced in."""
    return [
        (f"k{i}", {"user": f"u{(i * 7919 + i // 13) % users}", "seq": i})
        for i in range(start, start + n)
    ]


async def run_app(broker: str, state_dir: Path, total: int, **settings: Any) -> dict[str, Any]:
    """Start an App, wait until its counts add up to `total` events, stop it, return facts."""
    app = sk.App(
        topology(),
        application_id="recovery",
        broker=broker,
        state_dir=state_dir,
        commit_interval_ms=settings.pop("commit_interval_ms", 20),
        **settings,
    )
    await app.start()
    deadline = time.monotonic() + 30
    while _total(app) < total:
        assert app.error is None, app.error
        assert time.monotonic() < deadline, f"processed only {app.metrics()}"
        await asyncio.sleep(0.02)
    table = dict(app.store("counts").all())
    metrics = app.metrics()
    await app.stop()
    return {"table": table, "restored": metrics["restored_records"]}


async def changelog_size(broker: str) -> int:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        topic = "recovery-counts-changelog"
        counts = await admin.partition_counts([topic])
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        ends = await admin.list_offsets(tps, "latest")
        return sum(ends.values())
    finally:
        await transport.close()


def _total(app: sk.App) -> int:
    try:
        return sum(v for _, v in app.store("counts").all())
    except InvalidStateStoreError:  # still restoring: not ready yet, by design
        return -1


def reference(n: int) -> dict[str, int]:
    return dict(Counter(v["user"] for _, v in events(0, n)))


def test_restart_restores_only_the_tail(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    asyncio.run(produce(broker, "events", events(0, 400), partitions=2))
    first = asyncio.run(run_app(broker, state, 400))
    assert first["table"] == reference(400) and first["restored"] == 0
    snapshot = tmp_path / "state-after-first-run"
    shutil.copytree(state, snapshot)
    size_after_first = asyncio.run(changelog_size(broker))

    clean = asyncio.run(run_app(broker, state, 400))
    assert clean["restored"] == 0, "a cleanly stopped store has nothing to restore"

    asyncio.run(produce(broker, "events", events(400, 300), partitions=2))
    second = asyncio.run(run_app(broker, state, 700))
    assert second["table"] == reference(700)
    tail = asyncio.run(changelog_size(broker)) - size_after_first
    assert tail > 0

    # Put back the older state: its stored offsets make the next start replay exactly the
    # changelog records written since, not the whole changelog.
    shutil.rmtree(state)
    shutil.copytree(snapshot, state)
    third = asyncio.run(run_app(broker, state, 700))
    assert third["restored"] == tail
    assert third["table"] == reference(700)


def test_deleted_state_directory_is_rebuilt_identically(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    asyncio.run(produce(broker, "events", events(0, 500), partitions=3))
    first = asyncio.run(run_app(broker, state, 500))
    shutil.rmtree(state)
    rebuilt = asyncio.run(run_app(broker, state, 500))
    assert rebuilt["restored"] > 0
    assert rebuilt["table"] == first["table"] == reference(500)


def test_corrupt_store_files_are_wiped_and_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    asyncio.run(produce(broker, "events", events(0, 300), partitions=1))
    first = asyncio.run(run_app(broker, state, 300))
    store_dirs = list(state.glob("recovery/*/counts"))
    assert store_dirs, list(state.rglob("*"))
    for store_dir in store_dirs:
        for f in store_dir.iterdir():
            if f.is_file() and (f.name.startswith("MANIFEST") or f.name == "CURRENT"):
                f.write_bytes(b"\x00garbage\xff" * 10)
    with caplog.at_level(logging.WARNING):
        again = asyncio.run(run_app(broker, state, 300))
    assert any(
        "corrupt" in r.getMessage().lower() or "wip" in r.getMessage().lower()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert again["restored"] > 0
    assert again["table"] == first["table"] == reference(300)


def test_record_cache_cuts_changelog_and_output_on_skewed_keys(tmp_path: Path) -> None:
    """Zipf-like keys: most updates hit a few hot keys; with caching they collapse."""
    rng = random.Random(7)
    weights = [1 / (rank + 1) ** 1.2 for rank in range(200)]
    users = rng.choices([f"u{i}" for i in range(200)], weights=weights, k=20_000)
    records = [(f"k{i}", {"user": u, "seq": i}) for i, u in enumerate(users)]
    results = {}
    for cache in (0, 10 * 1024 * 1024):
        broker = f"embedded://{tmp_path / f'log{cache}'}"
        asyncio.run(produce(broker, "events", records, partitions=1))
        out = asyncio.run(
            run_app(
                broker,
                tmp_path / f"state{cache}",
                len(records),
                commit_interval_ms=60_000,
                cache_max_bytes=cache,
            )
        )
        assert out["table"] == dict(Counter(users))
        results[cache] = (
            asyncio.run(changelog_size(broker)),
            len(asyncio.run(read_all(broker, "counts-out"))),
        )
    uncached, cached = results[0], results[10 * 1024 * 1024]
    # Without the cache every update goes downstream; with it, one per key per commit.
    assert uncached[1] == len(records)
    assert cached[1] * 10 <= uncached[1], results
    # The store's write buffer always keeps one change per key per commit, so the changelog
    # holds far fewer records than there were updates (Kafka without a cache logs each one).
    assert cached[0] * 10 <= len(records), results


def test_reset_then_run_rebuilds_the_same_tables(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    asyncio.run(produce(broker, "events", events(0, 600), partitions=2))
    first = asyncio.run(run_app(broker, state, 600))
    app = sk.App(topology(), application_id="recovery", broker=broker, state_dir=state)
    lines: list[str] = []
    asyncio.run(reset_application(app, execute=False, echo=lines.append))
    assert "dry run" in lines[0] and state.exists()
    asyncio.run(reset_application(app, execute=True, echo=lines.append))
    assert not (state / "recovery").exists()
    replayed = asyncio.run(run_app(broker, state, 600))
    assert replayed["restored"] == 0
    assert replayed["table"] == first["table"] == reference(600)


def test_state_of_tasks_no_longer_assigned_is_cleaned_after_the_delay(tmp_path: Path) -> None:
    from streamz_kit.runtime.task_manager import TaskManager

    app = sk.App(
        topology(), application_id="recovery", state_dir=tmp_path, state_cleanup_delay_ms=1000
    )
    root = app.config.app_state_dir
    for name in ("0_0", "0_7", "global", "notatask"):
        (root / name).mkdir(parents=True)
    manager = TaskManager.__new__(TaskManager)
    manager.config, manager.tasks = app.config, {"0_0": object()}  # type: ignore[dict-item]
    assert manager.clean_stale_state(now=time.time()) == []  # too recent
    assert manager.clean_stale_state(now=time.time() + 5) == ["0_7"]
    assert sorted(p.name for p in root.iterdir()) == ["0_0", "global", "notatask"]
