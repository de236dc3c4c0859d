"""Suppressed.until_time_limit, KTable.to_stream(key_mapper) and window-store backward_fetch.

Expected outputs come from Kafka Streams 4.4's TopologyTestDriver running the same topology
and input (cache off), printed as (key, value, timestamp) after each input record.
"""

from __future__ import annotations

from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.windows import Window, Windowed

INPUT = [
    ("A", 0),
    ("B", 2),
    ("A", 5),
    ("C", 8),
    ("A", 11),
    ("B", 13),
    ("D", 30),
    ("E", 31),
    ("F", 31),
    ("A", 20),
    ("G", 32),
]


def _suppressed(suppressed: sk.Suppressed) -> list[tuple[str, tuple[Any, ...]]]:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .count()
        .suppress(suppressed)
        .to_stream()
        .to("out", key_serde=serdes.STRING, value_serde=serdes.LONG)
    )
    seen = []
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.LONG)
        for key, ts in INPUT:
            inp.pipe_input(key, "v", ts)
            seen += [
                (f"{key}@{ts}", (r.key, r.value, r.timestamp_ms))
                for r in out.read_records_to_list()
            ]
    return seen


def test_until_time_limit_emits_each_key_once_its_wait_is_over() -> None:
    assert _suppressed(sk.Suppressed.until_time_limit(10)) == [
        ("A@11", ("A", 3, 11)),
        ("B@13", ("B", 2, 13)),
        ("D@30", ("C", 1, 8)),
        ("A@20", ("A", 4, 20)),
    ]


def test_until_time_limit_with_max_records_emits_the_oldest_early() -> None:
    assert _suppressed(sk.Suppressed.until_time_limit(10, max_records=2)) == [
        ("C@8", ("A", 2, 5)),
        ("A@11", ("B", 1, 2)),
        ("B@13", ("C", 1, 8)),
        ("D@30", ("A", 3, 11)),
        ("D@30", ("B", 2, 13)),
        ("F@31", ("D", 1, 30)),
        ("A@20", ("A", 4, 20)),
        ("G@32", ("E", 1, 31)),
    ]


def test_to_stream_key_mapper_rekeys_and_a_grouping_repartitions() -> None:
    builder = sk.StreamsBuilder()
    table = builder.table("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
    (
        table.to_stream(lambda k, v: v["team"])
        .group_by_key(key_serde=serdes.STRING)
        .count()
        .to_stream()
        .to("out", key_serde=serdes.STRING, value_serde=serdes.LONG)
    )
    topology = builder.build()
    assert "KSTREAM-KEY-SELECT" in topology.describe()
    assert topology.repartition_topics  # the new key is partitioned again
    with TopologyTestDriver(topology) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.LONG)
        inp.pipe_input("ann", {"team": "red"}, 1)
        inp.pipe_input("bob", {"team": "red"}, 2)
        inp.pipe_input("cy", {"team": "blue"}, 3)
        assert out.read_key_values_to_list() == [("red", 1), ("red", 2), ("blue", 1)]


def test_window_store_backward_fetch_returns_newest_first() -> None:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_with_no_grace(10))
        .count(materialized=sk.Materialized("w", retention=1000))
    )
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        for key, ts in [("a", 1), ("a", 12), ("b", 14), ("a", 25), ("a", 26)]:
            inp.pipe_input(key, "v", ts)
        store = driver.get_window_store("w")
        assert store.fetch("a", 0, 30) == [(0, 1), (10, 1), (20, 2)]
        assert store.backward_fetch("a", 0, 30) == [(20, 2), (10, 1), (0, 1)]
        assert store.backward_fetch("a", 5, 15) == [(10, 1)]
        forward = store.fetch_all(0, 30)
        assert store.backward_fetch_all(0, 30) == forward[::-1]
        assert (Windowed("b", Window(10, 20)), 1) in forward
