"""Foreign-key joins and cogroup under the App on the embedded broker, with a restart in the
middle: the second run starts from an empty state directory, so every store (the
subscription store included) must come back from its changelog, and the results must be the
ones an uninterrupted run gives (the driver's, whose semantics tests/dsl checks against
Kafka Streams' own tests)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from tests.runtime.e2e import app_ready, produce, read_all

S = serdes.STRING


async def run_until(app: sk.App, ready: Callable[[], bool], timeout: float = 30) -> None:
    await app.start()
    await app_ready(app, ready, timeout=timeout)


def last_per_key(records: list[tuple[bytes | None, bytes | None]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in records:
        assert key is not None
        out[key.decode()] = None if value is None else orjson.loads(value)
    return {k: v for k, v in out.items() if v is not None}


def expected_by_driver(
    build: Callable[[], sk.Topology], inputs: list[tuple[str, str, Any]], store: str
) -> dict[str, Any]:
    with TopologyTestDriver(build()) as driver:
        topics = {t: driver.create_input_topic(t) for t in {t for t, _, _ in inputs}}
        for ts, (topic, key, value) in enumerate(inputs):
            topics[topic].pipe_input(key, value, timestamp_ms=ts)
        return dict(driver.get_key_value_store(store).all())


# -- foreign-key join --------------------------------------------------------------------------
def fk_topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    orders = builder.table("orders", key_serde=S, value_serde=serdes.JSON)
    products = builder.table("products", key_serde=S, value_serde=serdes.JSON)
    orders.left_join(
        products,
        lambda order, product: {"qty": order["qty"], "cat": product and product["cat"]},
        foreign_key=lambda order: order.get("product"),
        materialized=sk.Materialized("enriched"),
    ).to_stream().to("enriched-orders")
    return builder.build()


FK_BEFORE = [
    ("products", "p1", {"cat": "books"}),
    ("products", "p2", {"cat": "toys"}),
    *[("orders", f"o{i}", {"product": f"p{1 + i % 2}", "qty": i}) for i in range(8)],
    ("orders", "o8", {"product": "p3", "qty": 8}),
    ("orders", "o9", {"qty": 9}),  # no foreign key
]
FK_AFTER = [  # only joins made before the restart can produce these results
    ("products", "p1", {"cat": "novels"}),  # every p1 order follows
    ("products", "p3", {"cat": "games"}),  # o8 finds its product now
    ("orders", "o2", {"product": "p2", "qty": 2}),  # foreign key changes
    ("orders", "o3", None),  # left row deleted
    ("products", "p2", None),  # right row deleted: its orders keep None
    ("orders", "o9", {"product": "p1", "qty": 9}),
]


def test_fk_join_survives_a_restart_from_changelogs(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    expected = expected_by_driver(fk_topology, FK_BEFORE + FK_AFTER, "enriched")
    assert expected["o0"] == {"qty": 0, "cat": "novels"}
    assert expected["o8"] == {"qty": 8, "cat": "games"}
    assert expected["o5"] == {"qty": 5, "cat": None} and "o3" not in expected

    async def send(records: list[tuple[str, str, Any]]) -> None:
        for topic, key, value in records:
            await produce(broker, topic, [(key, value)], partitions=3 if topic == "orders" else 2)

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        await produce(broker, "orders", [], partitions=3)  # left and right tables differ in
        await produce(broker, "products", [], partitions=2)  # partition count on purpose
        await send(FK_BEFORE)

        def app() -> sk.App:
            return sk.App(
                fk_topology(),
                application_id="fkjoin",
                broker=broker,
                state_dir=state,
                commit_interval_ms=20,
            )

        first = app()
        await run_until(first, lambda: len(list(first.store("enriched").all())) == 10)
        await first.stop()
        shutil.rmtree(state)  # the second run restores every store from its changelog
        await send(FK_AFTER)
        second = app()
        want = {k: v for k, v in expected.items()}

        def done() -> bool:
            return dict(second.store("enriched").all()) == want

        await run_until(second, done)
        table = dict(second.store("enriched").all())
        await second.stop()
        return table, last_per_key(await read_all(broker, "enriched-orders"))

    table, topic = asyncio.run(go())
    assert table == expected
    assert topic == expected


# -- cogroup -----------------------------------------------------------------------------------
def cogroup_topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    clicks = builder.stream("clicks", key_serde=S, value_serde=serdes.JSON).group_by_key()
    buys = builder.stream("buys", key_serde=S, value_serde=serdes.JSON).group_by(
        lambda k, v: v["user"], key_serde=S, value_serde=serdes.JSON
    )
    clicks.cogroup(lambda k, v, agg: {**agg, "clicks": agg["clicks"] + 1}).cogroup(
        buys, lambda k, v, agg: {**agg, "spent": agg["spent"] + v["price"]}
    ).aggregate(
        lambda: {"clicks": 0, "spent": 0}, materialized=sk.Materialized("activity")
    ).to_stream().to("activity")
    return builder.build()


def cogroup_inputs(start: int, n: int) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = []
    for i in range(start, start + n):
        out.append(("clicks", f"u{i % 4}", {"page": i}))
        if i % 3 == 0:
            out.append(("buys", f"order{i}", {"user": f"u{i % 5}", "price": i}))
    return out


def test_cogroup_survives_a_restart_from_changelogs(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    before, after = cogroup_inputs(0, 30), cogroup_inputs(30, 30)
    expected = expected_by_driver(cogroup_topology, before + after, "activity")
    assert expected["u4"]["clicks"] == 0 and expected["u4"]["spent"] > 0

    async def send(records: list[tuple[str, str, Any]]) -> None:
        for topic in ("clicks", "buys"):
            await produce(broker, topic, [(k, v) for t, k, v in records if t == topic], 2)

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        await send(before)

        def app() -> sk.App:
            return sk.App(
                cogroup_topology(),
                application_id="cog",
                broker=broker,
                state_dir=state,
                commit_interval_ms=20,
            )

        mid = expected_by_driver(cogroup_topology, before, "activity")
        first = app()
        await run_until(first, lambda: dict(first.store("activity").all()) == mid)
        await first.stop()
        shutil.rmtree(state)
        await send(after)
        second = app()
        await run_until(second, lambda: dict(second.store("activity").all()) == expected)
        table = dict(second.store("activity").all())
        await second.stop()
        return table, last_per_key(await read_all(broker, "activity"))

    table, topic = asyncio.run(go())
    assert table == expected
    assert topic == expected
