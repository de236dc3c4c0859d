"""Windows and joins under the App on the embedded broker (the driver covers semantics;
this covers persistent window stores, App.store() views and global tables at runtime)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from tests.runtime.e2e import app_ready, produce, read_all


async def run_until(app: sk.App, ready: Callable[[], bool], timeout: float = 20) -> None:
    await app.start()
    await app_ready(app, ready, timeout=timeout)


def test_windowed_count_is_queryable_through_app_store(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    records = [(f"u{i % 3}", {"i": i}) for i in range(30)]

    async def go() -> dict[str, Any]:
        await produce(broker, "clicks", records, partitions=2)
        builder = sk.StreamsBuilder()
        (
            builder.stream("clicks", key_serde=serdes.STRING, value_serde=serdes.JSON)
            .group_by_key()
            .windowed_by(sk.TimeWindows.of_size_with_no_grace(60_000))
            .count(materialized=sk.Materialized("clicks-per-minute"))
        )
        app = sk.App(
            builder.build(),
            application_id="win",
            broker=broker,
            state_dir=tmp_path / "state",
            commit_interval_ms=20,
        )

        def total() -> int:
            return sum(v for _, v in app.store("clicks-per-minute").fetch_all(0, 2**62))

        await run_until(app, lambda: total() == 30)
        view = app.store("clicks-per-minute")
        facts = {
            "u0": view.fetch("u0", 0, 2**62),
            "all": sorted((w.key, v) for w, v in view.fetch_all(0, 2**62)),
        }
        await app.stop()
        return facts

    facts = asyncio.run(go())
    assert [v for _, v in facts["u0"]] == [10]
    assert facts["all"] == [("u0", 10), ("u1", 10), ("u2", 10)]


def test_global_table_join_at_runtime(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"

    async def go() -> list[tuple[bytes | None, bytes | None]]:
        await produce(
            broker, "items", [("i1", {"cat": "books"}), ("i2", {"cat": "toys"})], partitions=1
        )
        await produce(broker, "orders", [], partitions=3)
        builder = sk.StreamsBuilder()
        items = builder.global_table("items", key_serde=serdes.STRING, value_serde=serdes.JSON)
        orders = builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
        orders.join(items, lambda k, v: v["item"], lambda o, i: {**o, "cat": i["cat"]}).to(
            "enriched"
        )
        app = sk.App(
            builder.build(),
            application_id="glob",
            broker=broker,
            state_dir=tmp_path / "state",
            commit_interval_ms=20,
        )
        await app.start()
        await produce(
            broker,
            "orders",
            [("o1", {"item": "i2"}), ("o2", {"item": "i1"}), ("o3", {"item": "missing"})],
            partitions=3,
        )
        deadline = time.monotonic() + 20
        out: list[tuple[bytes | None, bytes | None]] = []
        while time.monotonic() < deadline and len(out) < 2:
            out = await read_all(broker, "enriched")
            await asyncio.sleep(0.05)
        await app.stop()
        return out

    out = asyncio.run(go())
    got = sorted((k.decode(), v.decode()) for k, v in out if k and v)
    assert got == [("o1", '{"item":"i2","cat":"toys"}'), ("o2", '{"item":"i1","cat":"books"}')]
