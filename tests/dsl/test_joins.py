"""Joins replaying Kafka Streams' join semantics tables (wiki "Kafka Streams Join Semantics").

All records share one key. Left: 1:null 3:A 5:B 7:null 9:C 12:null 15:D; right: 2:null
4:a 6:b 8:null 10:c 11:null 13:null 14:d, processed in timestamp order. Results are shown
as "X-Y" (joiner(left, right)), with None printed as "null".
"""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import TopologyError
from streamz_kit.testing import TopologyTestDriver

LEFT = {1: None, 3: "A", 5: "B", 7: None, 9: "C", 12: None, 15: "D"}
RIGHT = {2: None, 4: "a", 6: "b", 8: None, 10: "c", 11: None, 13: None, 14: "d"}


def joiner(left: Any, right: Any) -> str:
    return f"{'null' if left is None else left}-{'null' if right is None else right}"


def _replay(
    topology: sk.Topology,
    extra: list[tuple[str, int, Any]] = (),  # type: ignore[assignment]
) -> dict[int, list[Any]]:
    """Pipe the scenario; return the output records produced by each input timestamp."""
    script = sorted(
        [("left", ts, v) for ts, v in LEFT.items()] + [("right", ts, v) for ts, v in RIGHT.items()],
        key=lambda row: row[1],
    ) + list(extra)
    with TopologyTestDriver(topology) as driver:
        inputs = {
            side: driver.create_input_topic(
                side, key_serde=serdes.STRING, value_serde=serdes.STRING
            )
            for side in ("left", "right")
        }
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        produced: dict[int, list[Any]] = {}
        for side, ts, value in script:
            inputs[side].pipe_input("k", value, ts)
            records = out.read_records_to_list()
            if records:
                produced[ts] = [(r.value, r.timestamp_ms) for r in records]
        return produced


# -- stream-stream ----------------------------------------------------------------------------

# Kafka Streams 3.1+ (no spurious left/outer results); window 15 ms with no grace, so rows
# 1-15 fall into one window, then E/F/f/G show unmatched results emitted on window close.
EXTRA = [("left", 40, "E"), ("left", 60, "F"), ("right", 80, "f"), ("left", 100, "G")]
INNER_SS = {
    4: [("A-a", 4)],
    5: [("B-a", 5)],
    6: [("A-b", 6), ("B-b", 6)],
    9: [("C-a", 9), ("C-b", 9)],
    10: [("A-c", 10), ("B-c", 10), ("C-c", 10)],
    14: [("A-d", 14), ("B-d", 14), ("C-d", 14)],
    15: [("D-a", 15), ("D-b", 15), ("D-c", 15), ("D-d", 15)],
}
LEFT_SS = {**INNER_SS, 60: [("E-null", 40)], 80: [("F-null", 60)]}
OUTER_SS = {**LEFT_SS, 100: [("null-f", 80)]}


def _stream_stream(kind: str, windows: sk.JoinWindows | None = None) -> sk.Topology:
    builder = sk.StreamsBuilder()
    left = builder.stream("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    right = builder.stream("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    method = {"inner": left.join, "left": left.left_join, "outer": left.outer_join}[kind]
    joined = method(
        right, joiner, windows=windows or sk.JoinWindows.of_time_difference_without_grace(15)
    )
    joined.to("out", value_serde=serdes.STRING)
    return builder.build()


@pytest.mark.parametrize(
    ("kind", "expected"), [("inner", INNER_SS), ("left", LEFT_SS), ("outer", OUTER_SS)]
)
def test_stream_stream_join_semantics_table(kind: str, expected: dict[int, Any]) -> None:
    assert _replay(_stream_stream(kind), EXTRA) == expected


def test_stream_stream_left_result_waits_for_grace() -> None:
    topology = _stream_stream("left", sk.JoinWindows.of_time_difference_and_grace(10, 5))
    with TopologyTestDriver(topology) as driver:
        left = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        right = driver.create_input_topic(
            "right", key_serde=serdes.STRING, value_serde=serdes.STRING
        )
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        left.pipe_input("k", "A", 100)
        right.pipe_input("x", "z", 115)  # window end 110 + grace 5 = 115: not yet closed
        assert out.is_empty()
        right.pipe_input("k", "late-but-in-grace", 111)  # outside the window: no match
        assert out.is_empty()
        right.pipe_input("x", "z", 116)  # closes A's window
        assert [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [
            ("k", "A-null", 100)
        ]


def test_stream_stream_window_bounds_are_inclusive_and_asymmetric() -> None:
    windows = sk.JoinWindows.of_time_difference_and_grace(0, 100).before(5).after(2)
    topology = _stream_stream("inner", windows)
    with TopologyTestDriver(topology) as driver:
        left = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        right = driver.create_input_topic(
            "right", key_serde=serdes.STRING, value_serde=serdes.STRING
        )
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        left.pipe_input("k", "L", 100)
        for ts in (94, 95, 102, 103):
            right.pipe_input("k", str(ts), ts)
        assert [(r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [
            ("L-95", 100),
            ("L-102", 102),
        ]


def test_stream_stream_join_after_key_change_repartitions_and_copartitions() -> None:
    builder = sk.StreamsBuilder()
    left = builder.stream("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    right = builder.stream("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    rekeyed = left.select_key(lambda k, v: v.split(":")[0])
    rekeyed.join(right, joiner, windows=sk.JoinWindows.of_time_difference_without_grace(10)).to(
        "out", value_serde=serdes.STRING
    )
    topology = builder.build()
    assert len(topology.repartition_topics) == 1
    assert any(len(g) == 2 for sub in topology.subtopologies for g in sub.copartition_groups)
    with TopologyTestDriver(topology) as driver:
        lin = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin = driver.create_input_topic("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin.pipe_input("k", "r", 1)
        lin.pipe_input("ignored", "k:x", 2)
        assert out.read_key_values_to_list() == [("k", "k:x-r")]


def test_stream_stream_join_requires_join_windows() -> None:
    builder = sk.StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    with pytest.raises(TopologyError, match="JoinWindows"):
        left.join(right, joiner)


# -- stream-table -----------------------------------------------------------------------------


def _stream_table(left_join: bool) -> sk.Topology:
    builder = sk.StreamsBuilder()
    stream = builder.stream("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    table = builder.table("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    joined = stream.left_join(table, joiner) if left_join else stream.join(table, joiner)
    joined.to("out", value_serde=serdes.STRING)
    return builder.build()


def test_stream_table_inner_join_semantics_table() -> None:
    assert _replay(_stream_table(False)) == {5: [("B-a", 5)], 15: [("D-d", 15)]}


def test_stream_table_left_join_semantics_table() -> None:
    assert _replay(_stream_table(True)) == {
        3: [("A-null", 3)],
        5: [("B-a", 5)],
        9: [("C-null", 9)],
        15: [("D-d", 15)],
    }


def test_stream_table_join_reads_an_unmaterialized_filtered_table() -> None:
    builder = sk.StreamsBuilder()
    stream = builder.stream("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    table = builder.table("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    filtered = table.filter(lambda k, v: v != "skip")
    stream.left_join(filtered, joiner).to("out", value_serde=serdes.STRING)
    with TopologyTestDriver(builder.build()) as driver:
        lin = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin = driver.create_input_topic("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin.pipe_input("k", "x", 1)
        lin.pipe_input("k", "A", 2)
        rin.pipe_input("k", "skip", 3)
        lin.pipe_input("k", "B", 4)
        assert out.read_key_values_to_list() == [("k", "A-x"), ("k", "B-null")]


def test_stream_global_table_join() -> None:
    builder = sk.StreamsBuilder()
    orders = builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
    products = builder.global_table("products", key_serde=serdes.STRING, value_serde=serdes.STRING)
    orders.join(products, lambda k, v: v.get("product"), lambda o, p: f"{o['id']}:{p}").to(
        "out", value_serde=serdes.STRING
    )
    orders.left_join(products, lambda k, v: v.get("product"), lambda o, p: f"{o['id']}:{p}").to(
        "out-left", value_serde=serdes.STRING
    )
    with TopologyTestDriver(builder.build()) as driver:
        oin = driver.create_input_topic("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
        pin = driver.create_input_topic(
            "products", key_serde=serdes.STRING, value_serde=serdes.STRING
        )
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out_left = driver.create_output_topic(
            "out-left", key_serde=serdes.STRING, value_serde=serdes.STRING
        )
        pin.pipe_input("p1", "apple", 1)
        oin.pipe_input("c1", {"id": 1, "product": "p1"}, 2)
        oin.pipe_input("c1", {"id": 2, "product": "p9"}, 3)
        oin.pipe_input("c1", {"id": 3}, 4)
        pin.pipe_input("p9", "pear", 5)  # table updates alone emit nothing
        assert out.read_key_values_to_list() == [("c1", "1:apple")]
        assert out_left.read_key_values_to_list() == [
            ("c1", "1:apple"),
            ("c1", "2:None"),
            ("c1", "3:None"),
        ]


# -- table-table ------------------------------------------------------------------------------
# Current Kafka emits nothing where the wiki table shows "null" for a key that never had a
# join result (e.g. row 1): KTableKTable*Join returns early there.

INNER_TT = {
    4: [("A-a", 4)],
    5: [("B-a", 5)],
    6: [("B-b", 6)],
    7: [(None, 7)],
    10: [("C-c", 10)],
    11: [(None, 11)],
    15: [("D-d", 15)],
}
LEFT_TT = {
    3: [("A-null", 3)],
    4: [("A-a", 4)],
    5: [("B-a", 5)],
    6: [("B-b", 6)],
    7: [(None, 7)],
    9: [("C-null", 9)],
    10: [("C-c", 10)],
    11: [("C-null", 11)],
    12: [(None, 12)],
    15: [("D-d", 15)],
}
OUTER_TT = {
    3: [("A-null", 3)],
    4: [("A-a", 4)],
    5: [("B-a", 5)],
    6: [("B-b", 6)],
    7: [("null-b", 7)],
    8: [(None, 8)],
    9: [("C-null", 9)],
    10: [("C-c", 10)],
    11: [("C-null", 11)],
    12: [(None, 12)],
    14: [("null-d", 14)],
    15: [("D-d", 15)],
}


def _table_table(kind: str, materialized: sk.Materialized | None = None) -> sk.Topology:
    builder = sk.StreamsBuilder()
    left = builder.table("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    right = builder.table("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    method = {"inner": left.join, "left": left.left_join, "outer": left.outer_join}[kind]
    method(right, joiner, materialized=materialized).to_stream().to(
        "out", value_serde=serdes.STRING
    )
    return builder.build()


@pytest.mark.parametrize(
    ("kind", "expected"), [("inner", INNER_TT), ("left", LEFT_TT), ("outer", OUTER_TT)]
)
def test_table_table_join_semantics_table(kind: str, expected: dict[int, Any]) -> None:
    assert _replay(_table_table(kind)) == expected


def test_materialized_table_join_is_queryable() -> None:
    topology = _table_table("outer", sk.Materialized("joined", value_serde=serdes.STRING))
    with TopologyTestDriver(topology) as driver:
        lin = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin = driver.create_input_topic("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
        lin.pipe_input("k", "A", 1)
        rin.pipe_input("k", "a", 2)
        store = driver.get_key_value_store("joined")
        assert store.get("k") == "A-a"
        lin.pipe_input("k", None, 3)
        assert store.get("k") == "null-a"
        rin.pipe_input("k", None, 4)
        assert store.get("k") is None


def test_table_join_of_filtered_tables_sees_filter_tombstones() -> None:
    builder = sk.StreamsBuilder()
    left = builder.table("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
    right = builder.table("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
    left.filter(lambda k, v: v != "hide").join(right, joiner).to_stream().to(
        "out", value_serde=serdes.STRING
    )
    with TopologyTestDriver(builder.build()) as driver:
        lin = driver.create_input_topic("left", key_serde=serdes.STRING, value_serde=serdes.STRING)
        rin = driver.create_input_topic("right", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic("out", key_serde=serdes.STRING, value_serde=serdes.STRING)
        lin.pipe_input("k", "A", 1)
        rin.pipe_input("k", "a", 2)
        lin.pipe_input("k", "hide", 3)
        rin.pipe_input("k", "b", 4)  # the filtered left side no longer has k
        assert out.read_key_values_to_list() == [("k", "A-a"), ("k", None)]


def test_table_joins_register_copartition_groups() -> None:
    topology = _table_table("inner")
    groups = [g for sub in topology.subtopologies for g in sub.copartition_groups]
    assert groups == [["left", "right"]]
