"""A revoked task's async calls: `on_revoked` commits, and the commit first awaits every call
in flight, so their results are produced and committed before the partitions go; after the
revocation nothing is called or produced any more (the worker loop, driven by hand here, so
the revocation lands while calls are in flight)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.config import AppConfig
from streamz_kit.runtime.async_drive import async_tasks, drive
from streamz_kit.runtime.worker import Worker
from tests.runtime.e2e import produce, read_all

TOTAL = 120


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_revocation_awaits_in_flight_calls_and_nothing_comes_after(
    tmp_path: Path, guarantee: str
) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    started: list[int] = []
    finished: list[int] = []

    async def slow(value: dict[str, int]) -> dict[str, int]:
        started.append(value["seq"])
        await asyncio.sleep(0.05)
        finished.append(value["seq"])
        return value

    builder = sk.StreamsBuilder()
    (
        builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values_async(slow, max_in_flight=8)
        .to("out", value_serde=serdes.JSON)
    )
    config = AppConfig.from_settings(
        application_id="revoke",
        broker=broker,
        processing_guarantee=guarantee,
        state_dir=str(tmp_path / "state"),
    )

    async def scenario() -> None:
        await produce(broker, "events", [(f"k{i}", {"seq": i}) for i in range(TOTAL)], 2)
        worker = Worker(builder.build(), config)
        await worker.start()
        assert worker.consumer is not None and worker.tasks is not None
        tasks = worker.tasks
        try:
            for _ in range(100):  # until calls are in flight
                batch = await worker.consumer.poll(timeout_ms=50, max_records=30)
                worker._process(batch, tasks)
                calling = async_tasks(tasks.running().values())
                if calling and await drive(calling) and started:
                    break
            in_flight = sum(
                len(n.in_flight) for t in tasks.running().values() for n in t.async_nodes
            )
            assert in_flight > 0, "no call in flight at the revocation"
            await tasks.on_revoked(set(tasks.task_by_tp))
            assert sorted(finished) == sorted(started), "revocation left calls unfinished"
            assert not tasks.running()
            done = len(finished)
            await asyncio.sleep(0.2)  # a call cancelled or still running would show here
            calling = async_tasks(tasks.running().values())
            assert calling == [] and len(finished) == done and len(started) == done
        finally:
            await worker.close()
        out = [orjson.loads(v)["seq"] for _, v in await read_all(broker, "out")]
        # Every call that ran was produced and committed with its input offset.
        assert sorted(out) == sorted(finished)

    asyncio.run(scenario())
