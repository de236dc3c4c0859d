"""exactly_once on Kafka: a task's outputs are written into its open transaction as they are
produced (so the commit waits only for the rest), and stay invisible to read_committed
readers until the commit; a task closed without committing aborts that transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.transport import TopicPartition, TopicSpec, connect
from streamz_kit.transport.kafka._client import KafkaSettings
from streamz_kit.transport.kafka.producer import KafkaProducer
from tests.broker_kafka import unique_name
from tests.runtime.e2e import produce, read_all

pytestmark = pytest.mark.kafka

PARTITIONS = 2


async def _until(app: sk.App, ready: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 20
    while not await ready():
        assert app.error is None, app.error
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _app(prefix: str, broker: str, state: Path) -> sk.App:
    builder = sk.StreamsBuilder()
    (
        builder.stream(f"{prefix}-in", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values(lambda v: {"seq": v["seq"]})
        .to(f"{prefix}-out")
    )
    return sk.App(
        builder.build(),
        application_id=prefix,
        broker=broker,
        processing_guarantee="exactly_once",
        state_dir=state,
        commit_interval_ms=200_000,  # no commit but the one at stop()
        transaction_timeout_ms=900_000,  # >= 4 x the interval (the broker allows 15 min)
    )


def _orders(start: int, n: int) -> list[tuple[str, Any]]:
    return [(f"k{i % 5}", {"seq": i}) for i in range(start, start + n)]


async def _scenario(broker: str, tmp: Path) -> tuple[int, list[int], bool, list[int]]:
    prefix = unique_name("eos-dispatch")
    transport = connect(broker)
    await transport.start()
    admin = transport.admin()
    await admin.create_topics(
        [TopicSpec(f"{prefix}-in", PARTITIONS), TopicSpec(f"{prefix}-out", PARTITIONS)]
    )
    out_tps = [TopicPartition(f"{prefix}-out", p) for p in range(PARTITIONS)]

    async def written() -> int:
        ends = await admin.list_offsets(out_tps, "latest")
        return sum(ends.values())

    async def seqs() -> list[int]:
        return sorted(orjson.loads(v)["seq"] for _, v in await read_all(broker, f"{prefix}-out"))

    try:
        # 1. Outputs reach the broker before any commit, unseen by read_committed readers.
        app = _app(prefix, broker, tmp / "a")
        await app.start()
        await produce(broker, f"{prefix}-in", _orders(0, 100), PARTITIONS)
        await _until(app, lambda: _at_least(written, 100), "the outputs to be written")
        invisible = len(await seqs())
        await app.stop()  # commits
        after_commit = await seqs()
        # 2. Tasks closed without committing (a worker that failed) abort their open
        # transactions: read_committed readers reach the end of the outputs at once
        # instead of waiting for a new owner to fence them.
        base = await written()
        app = _app(prefix, broker, tmp / "b")
        await app.start()
        await produce(broker, f"{prefix}-in", _orders(100, 100), PARTITIONS)
        await _until(app, lambda: _at_least(written, base + 100), "the next outputs")
        tasks = app._worker.tasks if app._worker is not None else None
        assert tasks is not None and all(t.transaction_open for t in tasks.running().values())
        for task_id in list(tasks.tasks):
            await tasks._close_task(task_id)
        reached = await _reaches_end(transport, out_tps)
        await app.stop()
        after_abort = await seqs()
    finally:
        await transport.close()
    return invisible, after_commit, reached, after_abort


async def _reaches_end(transport: Any, tps: list[TopicPartition]) -> bool:
    """Whether a read_committed reader gets to each partition's end within 10 s (an open
    transaction holds it back until it ends)."""
    ends = await transport.admin().list_offsets(tps, "latest")
    consumer = transport.consumer(group_id=None, read_committed=True)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            await consumer.poll(timeout_ms=200, max_records=10_000)
            if all(consumer.position(tp) >= ends[tp] for tp in tps):
                return True
        return False
    finally:
        await consumer.close()


async def _at_least(count: Callable[[], Awaitable[int]], n: int) -> bool:
    return await count() >= n


def test_outputs_travel_inside_the_transaction_and_appear_at_its_commit(
    kafka_url: str, tmp_path: Path
) -> None:
    invisible, after_commit, reached, after_abort = asyncio.run(_scenario(kafka_url, tmp_path))
    assert invisible == 0, "outputs of an open transaction were visible to read_committed"
    assert after_commit == list(range(100))
    assert reached, "a closed task's open transaction was left open (readers wait for it)"
    assert after_abort == list(range(100)), "an aborted transaction's outputs appeared"


def test_outputs_wait_for_the_commit_when_it_nears_the_transaction_timeout() -> None:
    """A transaction open longer than the producer's transaction timeout is aborted by the
    broker: outputs go out early only while the commit interval stays well inside it."""
    plain = KafkaSettings.build("127.0.0.1:9", {})
    assert KafkaProducer(plain, transactional_id="t").dispatches_in_transaction(100)
    assert not KafkaProducer(plain, transactional_id="t").dispatches_in_transaction(30_000)
    longer = KafkaSettings.build("127.0.0.1:9", {"transaction_timeout_ms": 900_000})
    assert KafkaProducer(longer, transactional_id="t").dispatches_in_transaction(200_000)
    assert not KafkaProducer(plain, transactional_id=None).dispatches_in_transaction(100)
