"""Interactive queries over HTTP: keys, ranges, windows, topology, and 503 while restoring."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import InvalidStateStoreError
from streamz_kit.runtime import task_manager
from tests.observability.helpers import get, get_json, metric, wait_until
from tests.runtime.e2e import produce


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    by_user = builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON).group_by(
        lambda k, v: v["user"]
    )
    by_user.count(materialized=sk.Materialized("counts"))
    by_user.windowed_by(sk.TimeWindows.of_size_with_no_grace(60_000)).count(
        materialized=sk.Materialized("minute-counts")
    )
    return builder.build()


EVENTS = [(f"k{i}", {"user": f"u{i % 4}"}) for i in range(40)]


def make_app(tmp_path: Path, **kw: Any) -> sk.App:
    return sk.App(
        topology(),
        application_id="queries",
        broker=f"embedded://{tmp_path / 'log'}",
        state_dir=tmp_path / "state",
        commit_interval_ms=20,
        http_port=0,
        **kw,
    )


def counted(app: sk.App) -> int:
    try:
        return sum(v for _, v in app.store("counts").all())
    except InvalidStateStoreError:
        return -1


async def queries(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    await produce(broker, "events", EVENTS, partitions=2)
    app = make_app(tmp_path)
    await app.start()
    try:
        assert app.observability is not None and app.observability.endpoints["http"]
        base = app.observability.endpoints["http"]
        await wait_until(lambda: counted(app) == 40, what="40 counted events")

        assert await get_json(f"{base}/stores/counts/u1") == (
            200,
            {"store": "counts", "key": "u1", "value": 10},
        )
        status, body = await get_json(f"{base}/stores/counts/nobody")
        assert status == 404 and body["error"] == "not found"
        status, body = await get_json(f"{base}/stores/nosuch/u1")
        assert status == 404 and "counts" in body["message"]

        status, body = await get_json(f"{base}/stores/counts?from=u1&to=u2")
        assert status == 200
        assert body["items"] == [{"key": "u1", "value": 10}, {"key": "u2", "value": 10}]
        status, body = await get_json(f"{base}/stores/counts")
        assert body["count"] == 4
        status, body = await get_json(f"{base}/stores/counts?limit=2")
        assert body["count"] == 2

        status, body = await get_json(f"{base}/stores/minute-counts/u3/windows?from=0")
        assert status == 200 and body["key"] == "u3"
        assert sum(w["value"] for w in body["windows"]) == 10
        assert all(w["end"] - w["start"] == 60_000 for w in body["windows"])
        status, body = await get_json(f"{base}/stores/minute-counts/u3")
        assert status == 400 and "windows" in body["message"]
        status, body = await get_json(f"{base}/stores/minute-counts/u3/windows?from=soon")
        assert status == 400

        status, body = await get_json(f"{base}/topology")
        assert status == 200
        assert "Sub-topology" in body["description"] and "flowchart" in body["mermaid"]
        status, body = await get_json(f"{base}/status")
        assert status == 200 and body["application_id"] == "queries"
        assert body["endpoints"]["http"] == base
        status, raw, _ = await get(f"{base}/metrics")
        assert status == 200
        # Sources, then the repartition topic both aggregations share (the optimizer merged
        # their two topics into one): 40 records each.
        assert metric(raw.decode(), "streamz_records_processed_total", app="queries") == 80
        assert (await get_json(f"{base}/health"))[0] == 200
        assert (await get_json(f"{base}/nowhere"))[0] == 404
    finally:
        await app.stop()


def test_http_store_queries(tmp_path: Path) -> None:
    asyncio.run(queries(tmp_path))


async def restoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    await produce(broker, "events", EVENTS, partitions=2)
    first = make_app(tmp_path)
    await first.start()
    await wait_until(lambda: counted(first) == 40, what="the first run")
    await first.stop()
    import shutil

    shutil.rmtree(tmp_path / "state")  # the next start restores from the changelog

    release = asyncio.Event()
    real_restore = task_manager.restore

    async def held_restore(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await real_restore(*args, **kwargs)

    monkeypatch.setattr(task_manager, "restore", held_restore)
    app = make_app(tmp_path)
    await app.start()
    try:
        assert app.observability is not None
        base = app.observability.endpoints["http"]
        worker = app._worker
        await wait_until(
            lambda: (
                worker is not None and worker.tasks is not None and bool(worker.tasks.restoring)
            ),
            what="a restoring task",
        )
        status, body = await get_json(f"{base}/stores/counts/u1")
        assert status == 503 and body["error"] == "not ready"
        assert "restoring" in body["message"]
        status, body = await get_json(f"{base}/stores/counts")
        assert status == 503
        assert (await get_json(f"{base}/health")) == (503, {"state": "RUNNING", "ready": False})
        status, raw, _ = await get(f"{base}/metrics")
        assert (metric(raw.decode(), "streamz_restoring_tasks") or 0) >= 1
        status, body = await get_json(f"{base}/status")
        assert any(t["state"] == "RESTORING" for t in body["task_details"])

        release.set()
        await wait_until(lambda: counted(app) == 40, what="restored counts")
        assert await get_json(f"{base}/stores/counts/u1") == (
            200,
            {"store": "counts", "key": "u1", "value": 10},
        )
        assert app.metrics()["restored_records"] > 0
    finally:
        release.set()
        await app.stop()


def test_store_under_restoration_answers_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(restoring(tmp_path, monkeypatch))
