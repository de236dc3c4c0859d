"""A versioned table under the App on the embedded broker, with a restart in the middle.

The second run starts from an empty state directory, so the versioned store (every version
of every key) and the join's grace buffer come back from their changelogs. The App's
output must equal the TopologyTestDriver's for the same input sequence, and as-of queries
must answer the same after the restart.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.transport import connect
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ProducerRecord, TopicSpec
from tests.observability.helpers import get_json
from tests.runtime.e2e import app_ready, read_all

PARTITIONS = 2
PRICES_1 = [
    ("apple", 10, 100),
    ("pear", 20, 100),
    ("apple", 12, 200),
    ("plum", 5, 150),
    ("apple", 11, 150),
]  # the last one is out of order: history only
ORDERS_1 = [
    ("apple", 1, 120),
    ("pear", 2, 130),
    ("apple", 3, 210),
    ("plum", 4, 160),
    ("apple", 5, 155),
    ("pear", 6, 400),
]
PRICES_2 = [("pear", 25, 300), ("apple", 14, 390), ("apple", 13, 350), ("plum", None, 380)]
ORDERS_2 = [
    ("pear", 7, 310),
    ("apple", 8, 360),
    ("plum", 9, 385),
    ("apple", 10, 395),
    ("pear", 11, 700),
]


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    prices = builder.table(
        "prices",
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,
        materialized=sk.Materialized("prices", store="versioned", history_retention=1000),
    )
    orders = builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
    orders.left_join(prices, lambda qty, price: [qty, price], grace=50).to(
        "priced", key_serde=serdes.STRING, value_serde=serdes.JSON
    )
    return builder.build()


async def produce(broker: str, topic: str, rows: list[tuple[str, Any, int]]) -> None:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        if topic not in await admin.partition_counts([topic]):
            await admin.create_topics([TopicSpec(topic, PARTITIONS)])
        producer = transport.producer()
        for key, value, ts in rows:
            kb = key.encode()
            vb = None if value is None else orjson.dumps(value)
            producer.send(ProducerRecord(topic, default_partition(kb, PARTITIONS), kb, vb, ts))
        await producer.flush()
        await producer.close()
    finally:
        await transport.close()


def as_of(app: sk.App) -> dict[tuple[str, int], Any]:
    store = app.store("prices")
    return {
        (k, t): store.get(k, as_of=t)
        for k in ("apple", "pear", "plum")
        for t in (99, 100, 149, 150, 199, 200, 355, 400)
    }


def expected() -> tuple[list[tuple[str, Any]], dict[tuple[str, int], Any]]:
    """The same input sequence through the TopologyTestDriver."""
    with TopologyTestDriver(topology()) as driver:
        prices = driver.create_input_topic(
            "prices", key_serde=serdes.STRING, value_serde=serdes.JSON
        )
        orders = driver.create_input_topic(
            "orders", key_serde=serdes.STRING, value_serde=serdes.JSON
        )
        for topic, rows in (
            (prices, PRICES_1),
            (orders, ORDERS_1),
            (prices, PRICES_2),
            (orders, ORDERS_2),
        ):
            for key, value, ts in rows:
                topic.pipe_input(key, value, ts)
        out = driver.create_output_topic("priced", key_serde=serdes.STRING, value_serde=serdes.JSON)
        store = driver.get_key_value_store("prices")
        answers = {
            (k, t): store.get(k, as_of=t)
            for k in ("apple", "pear", "plum")
            for t in (99, 100, 149, 150, 199, 200, 355, 400)
        }
        return out.read_key_values_to_list(), answers


def test_versioned_join_survives_a_restart_with_state_restored_from_changelogs(
    tmp_path: Path,
) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"

    def app() -> sk.App:
        return sk.App(
            topology(),
            application_id="versioned",
            broker=broker,
            state_dir=state,
            commit_interval_ms=20,
            http_port=0,
        )

    async def go() -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, Any], int]:
        await produce(broker, "orders", [])
        await produce(broker, "prices", PRICES_1)
        first = app()
        await first.start()
        await app_ready(
            first, lambda: first.store("prices").get("apple", as_of=160) == 11, "first prices"
        )
        await produce(broker, "orders", ORDERS_1)
        # pear@400 moves the join's stream time to 400: every order up to 350 is joined;
        # pear@400 itself stays in the grace buffer across the restart.
        await app_ready(
            first, lambda: len(await_sync(read_all(broker, "priced"))) == 5, "first orders"
        )
        before = as_of(first)
        await first.stop()
        shutil.rmtree(state)  # the second run restores everything from the changelogs

        second = app()
        await second.start()
        await app_ready(
            second, lambda: second.store("prices").get("apple", as_of=200) == 12, "restored prices"
        )
        middle = as_of(second)
        assert second.observability is not None
        base = second.observability.endpoints["http"]
        assert await get_json(f"{base}/stores/prices/apple?as_of=160") == (
            200,
            {"store": "prices", "key": "apple", "value": 11, "timestamp": 150, "valid_to": 200},
        )
        status, body = await get_json(f"{base}/stores/prices/apple?as_of=50")
        assert status == 404 and "history" in body["message"]
        restored = second.metrics()["restored_records"]
        await produce(broker, "prices", PRICES_2)
        await app_ready(
            second, lambda: second.store("prices").get("apple", as_of=360) == 13, "second prices"
        )
        await produce(broker, "orders", ORDERS_2)
        await app_ready(
            second, lambda: len(await_sync(read_all(broker, "priced"))) == 10, "second orders"
        )
        after = as_of(second)
        await second.stop()
        return before, middle, after, restored

    before, middle, after, restored = asyncio.run(go())
    assert middle == before  # every version came back from the changelog
    assert restored > 0
    want, answers = expected()
    assert after == answers
    rows = asyncio.run(read_all(broker, "priced"))
    got = [(k.decode(), orjson.loads(v)) for k, v in rows if k is not None and v is not None]
    assert sorted(got, key=repr) == sorted(want, key=repr)
    assert len(got) == len(want) == 10


def await_sync(coro: Any) -> Any:
    """Run a coroutine to completion from inside the running loop's thread (test helper)."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
