"""exactly_once on Kafka: a task kept across a rebalance restarts where its own last
transaction left its inputs, not where the group's offset fetch says.

After a commit, the transaction's offsets become visible to OffsetFetch only once its
markers are written, a moment after EndTxn returns; aiokafka re-reads the group's offsets
as soon as a new assignment arrives, and does not ask for stable offsets (KIP-447's
require_stable). So a worker whose rebalance follows its own commit closely can be told the
previous transaction's offsets, and would process that transaction's records again. The
broker does this about 1 time in 100 when asked right after EndTxn; here it is made certain
by having the worker's group coordinator answer with offsets from before its last
transactions, and the outputs must still hold every input exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.transport import TopicPartition, TopicSpec, connect
from tests.broker_kafka import unique_name
from tests.runtime.e2e import produce, read_all

pytestmark = pytest.mark.kafka

PARTITIONS = 2


async def _until(app: sk.App, ready: Callable[[], Any], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await ready():
        assert app.error is None, app.error
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _orders(start: int, n: int) -> list[tuple[str, Any]]:
    return [(f"k{i % 5}", {"seq": i}) for i in range(start, start + n)]


async def _scenario(broker: str, state: Path) -> Counter[int]:
    prefix = unique_name("eos-resume")
    source, sink = f"{prefix}-in", f"{prefix}-out"
    transport = connect(broker)
    await transport.start()
    admin = transport.admin()
    await admin.create_topics([TopicSpec(source, PARTITIONS), TopicSpec(sink, PARTITIONS)])
    tps = [TopicPartition(source, p) for p in range(PARTITIONS)]

    async def outputs() -> int:
        return len(await read_all(broker, sink))

    async def all_committed() -> bool:
        ends = await admin.list_offsets(tps, "latest")
        committed = await admin.committed_offsets(prefix, tps)
        return all(committed.get(tp, -1) == ends[tp] for tp in tps)

    builder = sk.StreamsBuilder()
    (
        builder.stream(source, key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values(lambda v: {"seq": v["seq"], "seen": True})
        .to(sink)
    )
    app = sk.App(
        builder.build(),
        application_id=prefix,
        broker=broker,
        processing_guarantee="exactly_once",
        state_dir=state,
        commit_interval_ms=50,
    )
    await app.start()
    try:
        await produce(broker, source, _orders(0, 200), PARTITIONS)
        await _until(app, all_committed, "the first 200 orders to be committed")
        worker = app._worker
        assert worker is not None and worker.consumer is not None
        coordinator = worker.consumer._client._coordinator  # type: ignore[attr-defined]
        real_fetch = coordinator._do_fetch_commit_offsets
        before = await real_fetch([tp for tp in coordinator._subscription.assigned_partitions()])
        assert sum(o.offset for o in before.values()) == 200
        await produce(broker, source, _orders(200, 200), PARTITIONS)
        await _until(app, all_committed, "the next 200 orders to be committed")

        # From here the group coordinator answers as it does in the moment before the
        # markers of the last transactions are written: with older offsets.
        fetched: list[int] = []

        async def lagging_fetch(partitions: Any) -> Any:
            fetched.append(1)
            return {tp: before[tp] for tp in partitions if tp in before}

        coordinator._do_fetch_commit_offsets = lagging_fetch
        worker.consumer.request_rejoin()

        async def rejoined() -> bool:
            tasks = worker.tasks
            return bool(fetched) and tasks is not None and len(tasks.running()) == PARTITIONS

        await _until(app, rejoined, "the rebalance to hand the tasks back")
        await produce(broker, source, _orders(400, 100), PARTITIONS)
        await _until(app, all_committed, "the last 100 orders to be committed")
        assert await outputs() >= 500
    finally:
        await app.stop()
        await transport.close()
    assert app.error is None, app.error
    seen: Counter[int] = Counter()
    for _key, value in await read_all(broker, sink):
        assert value is not None
        seen[orjson.loads(value)["seq"]] += 1
    return seen


def test_task_resumed_after_rebalance_ignores_lagging_group_offsets(
    kafka_url: str, tmp_path: Path
) -> None:
    seen = asyncio.run(_scenario(kafka_url, tmp_path / "state"))
    duplicated = {seq: n for seq, n in seen.items() if n > 1}
    assert not duplicated, (
        f"{len(duplicated)} orders were output twice, e.g. {list(duplicated)[:5]}"
    )
    assert sorted(seen) == list(range(500))
