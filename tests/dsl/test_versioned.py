"""Versioned tables (KIP-889/914/923) through the test driver.

Expected outputs come from Kafka Streams 4.4's TopologyTestDriver running the same
topologies and inputs (versioned RocksDB store, history retention 100 ms, cache off),
printed after each input record.
"""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import TopologyError
from streamz_kit.testing import TopologyTestDriver

S = serdes.STRING


def versioned(name: str = "vt") -> sk.Materialized:
    return sk.Materialized(
        name, store="versioned", history_retention=100, key_serde=S, value_serde=S
    )


TABLE_INPUT = [
    ("k", "v1", 10),
    ("k", "v2", 20),
    ("k", "v0", 15),
    ("k", None, 5),
    ("k", "v3", 30),
    ("j", "x1", 25),
    ("j", "y", 24),
    ("j", None, 40),
    ("j", "z", 35),
    ("k", "late", 200),
    ("k", "vv", 50),
    ("k", "vw", 150),
    ("k", None, 120),
]


def test_versioned_table_source_forwards_out_of_order_updates_but_refuses_expired_ones() -> None:
    builder = sk.StreamsBuilder()
    table = builder.table("t", key_serde=S, value_serde=S, materialized=versioned())
    table.to_stream().to("out", key_serde=S, value_serde=S)
    table.filter(lambda k, v: not v.startswith("x")).to_stream().to(
        "filtered", key_serde=S, value_serde=S
    )
    seen: list[tuple[str, str, tuple[Any, ...]]] = []
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("t", key_serde=S, value_serde=S)
        outs = {
            name: driver.create_output_topic(name, key_serde=S, value_serde=S)
            for name in ("out", "filtered")
        }
        for key, value, ts in TABLE_INPUT:
            inp.pipe_input(key, value, ts)
            for name, out in outs.items():
                seen += [
                    (f"{key}@{ts}", name, (r.key, r.value, r.timestamp_ms))
                    for r in out.read_records_to_list()
                ]
        store = driver.get_key_value_store("vt")
        k_asof = {
            t: store.get("k", as_of=t)
            for t in (4, 5, 10, 15, 20, 30, 50, 99, 100, 101, 119, 120, 149, 150, 200, 300)
        }
        latest = (store.get("k"), store.get("j"))
        record = store.get_versioned("k", as_of=100)
    assert seen == [
        ("k@10", "out", ("k", "v1", 10)),
        ("k@10", "filtered", ("k", "v1", 10)),
        ("k@20", "out", ("k", "v2", 20)),
        ("k@20", "filtered", ("k", "v2", 20)),
        ("k@15", "out", ("k", "v0", 15)),
        ("k@15", "filtered", ("k", "v0", 15)),
        ("k@5", "out", ("k", None, 5)),
        ("k@5", "filtered", ("k", None, 5)),
        ("k@30", "out", ("k", "v3", 30)),
        ("k@30", "filtered", ("k", "v3", 30)),
        ("j@25", "out", ("j", "x1", 25)),
        ("j@25", "filtered", ("j", None, 25)),
        ("j@24", "out", ("j", "y", 24)),
        ("j@24", "filtered", ("j", "y", 24)),
        ("j@40", "out", ("j", None, 40)),
        ("j@40", "filtered", ("j", None, 40)),
        ("j@35", "out", ("j", "z", 35)),
        ("j@35", "filtered", ("j", "z", 35)),
        ("k@200", "out", ("k", "late", 200)),
        ("k@200", "filtered", ("k", "late", 200)),
        # k@50 is older than stream time 200 - history 100: not stored, not forwarded.
        ("k@150", "out", ("k", "vw", 150)),
        ("k@150", "filtered", ("k", "vw", 150)),
        ("k@120", "out", ("k", None, 120)),
        ("k@120", "filtered", ("k", None, 120)),
    ]
    assert latest == ("late", None)
    assert k_asof == {
        4: None,
        5: None,
        10: None,
        15: None,
        20: None,
        30: None,
        50: None,
        99: None,
        100: "v3",
        101: "v3",
        119: "v3",
        120: None,
        149: None,
        150: "vw",
        200: "late",
        300: "late",
    }
    assert record is not None and (record.value, record.timestamp, record.valid_to) == (
        "v3",
        30,
        120,
    )


STREAM_TABLE_INPUT = [
    ("t", "k", "a", 10),
    ("t", "k", "b", 20),
    ("s", "k", "s1", 15),
    ("s", "k", "s2", 25),
    ("s", "k", "s3", 5),
    ("t", "k", "c", 18),
    ("s", "k", "s4", 19),
    ("s", "j", "s5", 30),
    ("t", "k", None, 40),
    ("s", "k", "s6", 45),
    ("s", "k", "s7", 22),
    ("s", "k", "s8", 60),
    ("s", "k", "s9", 50),
    ("s", "k", "s10", 100),
    ("s", "k", "s11", 61),
    ("s", "j", "s12", 200),
]


def _stream_table(left: bool, grace: int | None) -> list[tuple[str, tuple[Any, ...]]]:
    builder = sk.StreamsBuilder()
    table = builder.table("t", key_serde=S, value_serde=S, materialized=versioned())
    stream = builder.stream("s", key_serde=S, value_serde=S)

    def joiner(a, b):
        return f"{a}+{'null' if b is None else b}"

    join = stream.left_join if left else stream.join
    join(table, joiner, grace=grace).to("out", key_serde=S, value_serde=S)
    seen = []
    with TopologyTestDriver(builder.build()) as driver:
        inputs = {t: driver.create_input_topic(t, key_serde=S, value_serde=S) for t in "ts"}
        out = driver.create_output_topic("out", key_serde=S, value_serde=S)
        for topic, key, value, ts in STREAM_TABLE_INPUT:
            inputs[topic].pipe_input(key, value, ts)
            seen += [
                (f"{topic}:{key}@{ts}", (r.key, r.value, r.timestamp_ms))
                for r in out.read_records_to_list()
            ]
    return seen


def test_stream_join_looks_up_the_row_valid_at_the_record_time() -> None:
    assert _stream_table(left=False, grace=None) == [
        ("s:k@15", ("k", "s1+a", 15)),
        ("s:k@25", ("k", "s2+b", 25)),
        ("s:k@19", ("k", "s4+c", 19)),
        ("s:k@22", ("k", "s7+b", 22)),
    ]


def test_stream_left_join_against_a_versioned_table() -> None:
    assert _stream_table(left=True, grace=None) == [
        ("s:k@15", ("k", "s1+a", 15)),
        ("s:k@25", ("k", "s2+b", 25)),
        ("s:k@5", ("k", "s3+null", 5)),
        ("s:k@19", ("k", "s4+c", 19)),
        ("s:j@30", ("j", "s5+null", 30)),
        ("s:k@45", ("k", "s6+null", 45)),
        ("s:k@22", ("k", "s7+b", 22)),
        ("s:k@60", ("k", "s8+null", 60)),
        ("s:k@50", ("k", "s9+null", 50)),
        ("s:k@100", ("k", "s10+null", 100)),
        ("s:k@61", ("k", "s11+null", 61)),
        ("s:j@200", ("j", "s12+null", 200)),
    ]


def test_join_with_grace_buffers_stream_records_and_emits_them_in_time_order() -> None:
    assert _stream_table(left=False, grace=20) == [
        ("s:k@45", ("k", "s1+a", 15)),
        ("s:k@45", ("k", "s4+c", 19)),
        ("s:k@45", ("k", "s2+b", 25)),
        ("s:k@22", ("k", "s7+b", 22)),
    ]


def test_left_join_with_grace() -> None:
    assert _stream_table(left=True, grace=20) == [
        ("s:k@5", ("k", "s3+null", 5)),
        ("s:k@45", ("k", "s1+a", 15)),
        ("s:k@45", ("k", "s4+c", 19)),
        ("s:k@45", ("k", "s2+b", 25)),
        ("s:k@22", ("k", "s7+b", 22)),
        ("s:k@60", ("j", "s5+null", 30)),
        ("s:k@100", ("k", "s6+null", 45)),
        ("s:k@100", ("k", "s9+null", 50)),
        ("s:k@100", ("k", "s8+null", 60)),
        ("s:k@61", ("k", "s11+null", 61)),
        ("s:j@200", ("k", "s10+null", 100)),
    ]


def test_grace_needs_a_versioned_table_with_enough_history() -> None:
    builder = sk.StreamsBuilder()
    plain = builder.table("t", key_serde=S, value_serde=S)
    stream = builder.stream("s", key_serde=S, value_serde=S)
    with pytest.raises(TopologyError, match="needs a versioned table"):
        stream.join(plain, lambda a, b: a, grace=10)
    table = builder.table("t2", key_serde=S, value_serde=S, materialized=versioned("v2"))
    with pytest.raises(TopologyError, match="longer than the table's history retention"):
        stream.join(table, lambda a, b: a, grace=101)
    with pytest.raises(TopologyError, match="history_retention"):
        sk.Materialized("x", store="versioned")


def test_table_table_join_drops_out_of_order_versions() -> None:
    builder = sk.StreamsBuilder()
    left = builder.table("l", key_serde=S, value_serde=S, materialized=versioned())
    right = builder.table("r", key_serde=S, value_serde=S)
    left.join(right, lambda a, b: f"{a}/{b}").to_stream().to("out", key_serde=S, value_serde=S)
    with TopologyTestDriver(builder.build()) as driver:
        lin = driver.create_input_topic("l", key_serde=S, value_serde=S)
        rin = driver.create_input_topic("r", key_serde=S, value_serde=S)
        out = driver.create_output_topic("out", key_serde=S, value_serde=S)
        rin.pipe_input("k", "R", 1)
        lin.pipe_input("k", "new", 20)
        lin.pipe_input("k", "old", 10)  # out of order: history only, no join result
        rin.pipe_input("k", "R2", 30)
        assert out.read_key_values_to_list() == [("k", "new/R"), ("k", "new/R2")]


def test_to_table_can_be_versioned_too() -> None:
    builder = sk.StreamsBuilder()
    table = builder.stream("t", key_serde=S, value_serde=S).to_table(materialized=versioned())
    stream = builder.stream("s", key_serde=S, value_serde=S)
    stream.join(table, lambda a, b: f"{a}+{b}").to("out", key_serde=S, value_serde=S)
    with TopologyTestDriver(builder.build()) as driver:
        tin = driver.create_input_topic("t", key_serde=S, value_serde=S)
        sin = driver.create_input_topic("s", key_serde=S, value_serde=S)
        out = driver.create_output_topic("out", key_serde=S, value_serde=S)
        tin.pipe_input("k", "new", 20)
        tin.pipe_input("k", "old", 10)  # out of order: history only
        sin.pipe_input("k", "x", 15)
        sin.pipe_input("k", "y", 25)
        assert out.read_key_values_to_list() == [("k", "x+old"), ("k", "y+new")]
        assert driver.get_key_value_store("vt").get("k", as_of=12) == "old"
