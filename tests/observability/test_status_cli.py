"""`streamz-kit status APP` against a running App, a stopped one, and a stale status file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import orjson
from click.testing import CliRunner

import streamz_kit as sk
from streamz_kit.cli import main
from streamz_kit.loader import load_app
from tests.observability.helpers import wait_until
from tests.runtime.e2e import produce

APP_SOURCE = """
import streamz_kit as sk
from streamz_kit import serdes

builder = sk.StreamsBuilder()
(builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
    .group_by(lambda k, v: v["user"])
    .count(materialized=sk.Materialized("counts")))
app = sk.App(builder.build(), application_id="statusapp", broker={broker!r},
             state_dir={state!r}, commit_interval_ms=20, http_port=0)
"""


def write_app(tmp_path: Path) -> tuple[str, str]:
    broker = f"embedded://{tmp_path / 'log'}"
    path = tmp_path / f"status_app_{tmp_path.name}.py"
    path.write_text(APP_SOURCE.format(broker=broker, state=str(tmp_path / "state")))
    return str(path), broker


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


async def running(tmp_path: Path) -> None:
    spec, broker = write_app(tmp_path)
    await produce(
        broker, "events", [(f"k{i}", {"user": f"u{i % 3}"}) for i in range(30)], partitions=2
    )
    app = load_app(spec)
    await app.start()
    try:
        await wait_until(lambda: app.metrics().get("records_processed", 0) >= 60, what="input")
        status_dir = tmp_path / "state" / "statusapp"
        await wait_until(lambda: any(status_dir.glob("status-*.json")), what="status file")
        await asyncio.sleep(1.2)  # one more tick: the file reflects the processed input

        code, out = await asyncio.to_thread(invoke, "status", spec)
        assert code == 0, out
        assert "1 worker(s) running" in out
        assert f"pid {os.getpid()}" in out
        for task in ("0_0", "0_1", "1_0", "1_1"):
            assert task in out
        assert "events-0" in out and "statusapp-" in out
        assert "counts=" in out
        assert "Input partitions" in out

        code, out = await asyncio.to_thread(invoke, "status", spec, "--json")
        assert code == 0, out
        report = json.loads(out)
        assert report["live_workers"] == 1 and report["group_active"] is True
        worker = report["workers"][0]
        assert worker["records_processed"] == 60
        entries = sum(t["stores"].get("counts") or 0 for t in worker["task_details"])
        assert entries == 3
        lag = {row["partition"]: row["lag"] for row in report["partitions"]}
        assert set(lag) >= {"events-0", "events-1"}

        assert app.observability is not None
        http = app.observability.endpoints["http"]
        assert http is not None
        code, out = await asyncio.to_thread(invoke, "status", spec, "--http", http, "--json")
        assert code == 0 and json.loads(out)["live_workers"] == 1
    finally:
        await app.stop()
    assert not list((tmp_path / "state" / "statusapp").glob("status-*.json"))

    code, out = await asyncio.to_thread(invoke, "status", spec)
    assert code == 0, out
    assert "no worker is running" in out
    assert "Input partitions" in out  # the committed offsets still tell the lag


def test_status_of_a_running_and_a_stopped_app(tmp_path: Path) -> None:
    asyncio.run(running(tmp_path))


def test_status_reports_a_dead_worker_as_stale(tmp_path: Path) -> None:
    spec, _ = write_app(tmp_path)
    status_dir = tmp_path / "state" / "statusapp"
    status_dir.mkdir(parents=True)
    (status_dir / "status-999999.json").write_bytes(
        orjson.dumps(
            {
                "application_id": "statusapp",
                "state": "RUNNING",
                "pid": 999_999,
                "host": "h",
                "updated_at": 0.0,
            }
        )
    )
    code, out = invoke("status", spec)
    assert code == 0, out
    assert "no worker is running" in out and "stale: pid 999999" in out
    assert "does not exist yet" in out  # nothing ever ran on this embedded log
    code, out = invoke("status", spec, "--http", "http://127.0.0.1:9", "--json")
    assert code == 0 and "did not answer" in out


def test_run_accepts_the_server_options() -> None:
    code, out = invoke("run", "--help")
    assert code == 0
    assert "--metrics-port" in out and "--http-port" in out and "--http-host" in out
    app = sk.App(_tiny(), application_id="x")
    app.configure(metrics_port=9100, http_port=8080, http_host="0.0.0.0")
    assert (app.metrics_port, app.http_port, app.http_host) == (9100, 8080, "0.0.0.0")
    assert "metrics_port" not in app.config.client_config


def _tiny() -> sk.Topology:
    builder = sk.StreamsBuilder()
    builder.stream("in").to("out")
    return builder.build()
