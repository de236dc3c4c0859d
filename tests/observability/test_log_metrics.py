"""The embedded log's size on disk and each topic's retained bytes, in /metrics and
app.metrics(), agree with what the log reports (`streamz-kit topics`)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import streamz_kit as sk
from streamz_kit.transport import connect
from tests.observability.helpers import counts_topology, get, metric, wait_until
from tests.runtime.e2e import produce


def test_log_size_and_retained_bytes_are_exported(tmp_path: Path) -> None:
    async def go() -> None:
        broker = f"embedded://{tmp_path / 'log'}"
        await produce(
            broker, "events", [(f"k{i}", {"user": f"u{i % 5}"}) for i in range(50)], partitions=2
        )
        app = sk.App(
            counts_topology(),
            application_id="sizes",
            broker=broker,
            state_dir=tmp_path / "state",
            commit_interval_ms=30,
            metrics_port=0,
        )
        await app.start()
        try:
            assert app.observability is not None
            app.observability.lag_seconds = 0.2
            await wait_until(lambda: "log" in app.metrics(), what="a log size refresh")
            facts = app.metrics()["log"]
            db = tmp_path / "log" / "log.db"
            assert 0 < facts["file_bytes"] <= os.path.getsize(db) + os.path.getsize(f"{db}-wal")
            transport = connect(broker)
            await transport.start()
            states = await transport.admin().describe_partitions(["events"])
            await transport.close()
            events = sum(s.bytes or 0 for s in states)
            assert events > 0 and facts["retained_bytes_by_topic"]["events"] == events
            url = app.observability.endpoints["metrics"]
            assert url is not None
            text = (await get(url))[1].decode()
            assert metric(text, "streamz_log_retained_bytes", topic="events") == events
            assert (metric(text, "streamz_log_file_bytes", app="sizes") or 0) > 0
        finally:
            await app.stop()

    asyncio.run(go())
