"""Stateless KStream operations through the test driver, with exact outputs."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes


def out_records(out: Any) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()]


def test_filter_keeps_matching_records(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").filter(lambda k, v: v % 2 == 0).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    for i in range(5):
        inp.pipe_input(f"k{i}", i, timestamp_ms=100 + i)
    assert out_records(out) == [("k0", 0, 100), ("k2", 2, 102), ("k4", 4, 104)]


def test_filter_not_drops_matching_records(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").filter_not(lambda k, v: k == "drop").to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_key_value_list([("a", 1), ("drop", 2), ("b", 3)], timestamp_ms=7)
    assert out.read_key_values_to_list() == [("a", 1), ("b", 3)]


def test_map_changes_key_and_value(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").map(lambda k, v: (v["user"], {"from": k, "n": v["n"] * 10})).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("x", {"user": "ann", "n": 1}, timestamp_ms=5)
    inp.pipe_input("y", {"user": "bob", "n": 2}, timestamp_ms=6)
    assert out_records(out) == [
        ("ann", {"from": "x", "n": 10}, 5),
        ("bob", {"from": "y", "n": 20}, 6),
    ]


def test_map_accepts_a_list_pair(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").map(lambda k, v: [k.upper(), v]).to("out")
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_input("a", 1)
    assert driver.create_output_topic("out").read_key_values_to_list() == [("A", 1)]


def test_map_values_keeps_key_and_timestamp(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").map_values(lambda v: v + 1).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("a", 1, timestamp_ms=11)
    assert out_records(out) == [("a", 2, 11)]


def test_map_values_sees_none_values(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """A stateless operation passes null values to the callback, as Kafka Streams does."""
    builder.stream("in").map_values(lambda v: "none" if v is None else "some").to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", None)
    inp.pipe_input("b", 3)
    assert driver.create_output_topic("out").read_key_values_to_list() == [
        ("a", "none"),
        ("b", "some"),
    ]


def test_flat_map_emits_zero_or_more_pairs(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").flat_map(lambda k, v: [(f"{k}{i}", i) for i in range(v)]).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("a", 2, timestamp_ms=3)
    inp.pipe_input("b", 0, timestamp_ms=4)
    inp.pipe_input("c", 1, timestamp_ms=5)
    assert out_records(out) == [("a0", 0, 3), ("a1", 1, 3), ("c0", 0, 5)]


def test_flat_map_values_splits_values(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").flat_map_values(lambda v: v.split()).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("s1", "the quick fox", timestamp_ms=9)
    inp.pipe_input("s2", "", timestamp_ms=10)
    assert out_records(out) == [("s1", "the", 9), ("s1", "quick", 9), ("s1", "fox", 9)]


def test_select_key_replaces_key_only(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").select_key(lambda k, v: v["id"]).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input(None, {"id": "u1"}, timestamp_ms=1)
    assert out_records(driver.create_output_topic("out")) == [("u1", {"id": "u1"}, 1)]


def test_peek_and_foreach_see_every_record(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    peeked: list[tuple[Any, Any]] = []
    seen: list[tuple[Any, Any]] = []
    stream = builder.stream("in")
    stream.peek(lambda k, v: peeked.append((k, v))).to("out")
    stream.foreach(lambda k, v: seen.append((k, v)))
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_key_value_list([("a", 1), ("b", 2)])
    assert peeked == [("a", 1), ("b", 2)]
    assert seen == [("a", 1), ("b", 2)]
    assert driver.create_output_topic("out").read_key_values_to_list() == [("a", 1), ("b", 2)]


def test_merge_interleaves_in_processing_order(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    left = builder.stream("left")
    right = builder.stream("right").map_values(lambda v: -v)
    left.merge(right).to("out")
    driver = make_driver(builder)
    lin = driver.create_input_topic("left")
    rin = driver.create_input_topic("right")
    lin.pipe_input("a", 1, timestamp_ms=1)
    rin.pipe_input("b", 2, timestamp_ms=2)
    lin.pipe_input("c", 3, timestamp_ms=3)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", 1, 1),
        ("b", -2, 2),
        ("c", 3, 3),
    ]


def test_split_first_match_wins_with_named_default(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    branches = (
        builder.stream("in")
        .split(name="n-")
        .branch(lambda k, v: v < 0, name="neg")
        .branch(lambda k, v: v < 10, name="small")
        .branch(lambda k, v: v < 0 or v < 100, name="medium")
        .default_branch(name="big")
    )
    assert list(branches) == ["n-neg", "n-small", "n-medium", "n-big"]
    for name, stream in branches.items():
        stream.to(f"out-{name}")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    for v in (-5, 3, 50, 500, -1):
        inp.pipe_input(str(v), v)
    got = {
        name: driver.create_output_topic(f"out-{name}").read_values_to_list() for name in branches
    }
    assert got == {"n-neg": [-5, -1], "n-small": [3], "n-medium": [50], "n-big": [500]}


def test_split_without_default_drops_unmatched(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    branches = builder.stream("in").split().branch(lambda k, v: v == "x").no_default_branch()
    assert list(branches) == ["1"]
    branches["1"].to("xs")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_key_value_list([("a", "x"), ("b", "y"), ("c", "x")])
    assert driver.create_output_topic("xs").read_key_values_to_list() == [("a", "x"), ("c", "x")]
    assert driver.produced_topic_names() == {"xs"}


def test_split_default_names_are_positions(builder: sk.StreamsBuilder) -> None:
    branches = (
        builder.stream("in")
        .split()
        .branch(lambda k, v: True)
        .branch(lambda k, v: True)
        .default_branch()
    )
    assert list(branches) == ["1", "2", "0"]


def test_repartition_named_goes_through_internal_topic(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").select_key(lambda k, v: str(v)).repartition(name="by-value").map_values(
        lambda v: v * 2
    ).to("out")
    topology = builder.build()
    assert topology.repartition_topics == ["by-value-repartition"]
    assert len(topology.subtopologies) == 2
    text = topology.describe()
    assert "Sink: KSTREAM-SINK-0000000002 (topic: by-value-repartition)" in text
    assert "Processor: KSTREAM-FILTER-0000000003 (stores: [])" in text  # KIP-962 null keys
    assert "Source: KSTREAM-SOURCE-0000000004 (topics: [by-value-repartition])" in text
    driver = make_driver(topology, config={"application_id": "app"})
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("a", 4, timestamp_ms=21)
    inp.pipe_input("b", 5, timestamp_ms=22)
    assert out_records(out) == [("4", 8, 21), ("5", 10, 22)]
    # The internal topic is the application's own (prefixed) and never shows as an output.
    assert driver.produced_topic_names() == {"out"}
    with pytest.raises(sk.TopologyError, match="not read by this topology"):
        driver.create_input_topic("by-value-repartition")


def test_repartition_keeps_serdes_given(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING).repartition(
        key_serde=serdes.STRING, value_serde=serdes.STRING, num_partitions=3
    ).to("out")
    topology = builder.build()
    assert topology.repartition_topics == ["KSTREAM-REPARTITION-0000000001-repartition"]
    assert topology.graph.repartition_topics[topology.repartition_topics[0]].num_partitions == 3
    driver = make_driver(topology)
    driver.create_input_topic("in", value_serde=serdes.STRING).pipe_input("k", "v")
    out = driver.create_output_topic("out", value_serde=serdes.STRING)
    assert out.read_key_values_to_list() == [("k", "v")]


def test_to_topic_function_routes_each_record(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").to(lambda k, v: f"out-{v['kind']}")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", {"kind": "x"})
    inp.pipe_input("b", {"kind": "y"})
    inp.pipe_input("c", {"kind": "x"})
    assert driver.produced_topic_names() == {"out-x", "out-y"}
    assert driver.create_output_topic("out-x").read_key_values_to_list() == [
        ("a", {"kind": "x"}),
        ("c", {"kind": "x"}),
    ]
    assert driver.create_output_topic("out-y").read_key_values_to_list() == [("b", {"kind": "y"})]
    assert "Sink: KSTREAM-SINK-0000000001 (topic extractor: function)" in builder.build().describe()


def test_to_with_serdes_and_partitioner(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    calls: list[tuple[str, Any, Any, int]] = []

    def partitioner(topic: str, key: Any, value: Any, num_partitions: int) -> int:
        calls.append((topic, key, value, num_partitions))
        return 0

    builder.stream("in").to(
        "out", key_serde=serdes.STRING, value_serde=serdes.LONG, partitioner=partitioner
    )
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_input("k", 42, timestamp_ms=3)
    assert calls == [("out", "k", 42, 1)]
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    assert out_records(out) == [("k", 42, 3)]


def test_headers_and_timestamps_pass_through(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").filter(lambda k, v: True).map(lambda k, v: (v, k)).flat_map_values(
        lambda v: [v, v]
    ).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("k", "v", timestamp_ms=1234, headers=[("trace", b"abc"), ("n", b"1")])
    recs = driver.create_output_topic("out").read_records_to_list()
    assert [(r.key, r.value, r.timestamp_ms, r.headers) for r in recs] == [
        ("v", "k", 1234, (("trace", b"abc"), ("n", b"1"))),
    ] * 2


def test_timestamp_extractor_sets_record_time(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in", timestamp_extractor=lambda k, v, ts: v["t"]).to("out")
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_input("a", {"t": 777}, timestamp_ms=1)
    assert driver.create_output_topic("out").read_record().timestamp_ms == 777


def test_stream_from_several_topics(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream(["t1", "t2"]).to("out")
    driver = make_driver(builder)
    driver.create_input_topic("t1").pipe_input("a", 1)
    driver.create_input_topic("t2").pipe_input("b", 2)
    assert driver.create_output_topic("out").read_key_values_to_list() == [("a", 1), ("b", 2)]


def test_input_topic_auto_advance(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in", start_timestamp_ms=1000, auto_advance_ms=10)
    inp.pipe_value_list([1, 2, 3])
    assert out_records(driver.create_output_topic("out")) == [
        (None, 1, 1000),
        (None, 2, 1010),
        (None, 3, 1020),
    ]


def test_output_topic_read_methods(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").to("out")
    driver = make_driver(builder)
    out = driver.create_output_topic("out")
    assert out.is_empty()
    with pytest.raises(sk.StreamzError, match="empty"):
        out.read_key_value()
    driver.create_input_topic("in").pipe_key_value_list([("a", 1), ("b", 2), ("a", 3)])
    assert out.get_queue_size() == 3
    assert out.read_key_value() == ("a", 1)
    assert out.read_key_values_to_map() == {"b": 2, "a": 3}
    assert out.is_empty()


def test_output_topic_read_back_as_input(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """A topic one part writes and another reads: the driver pipes the record on, and the
    topic is still an output the test can read."""
    builder.stream("a").map_values(lambda v: v + 1).to("b")
    builder.stream("b").map_values(lambda v: v * 10).to("c")
    topology = builder.build()
    assert len(topology.subtopologies) == 2
    driver = make_driver(topology)
    driver.create_input_topic("a").pipe_input("k", 1, timestamp_ms=8)
    assert out_records(driver.create_output_topic("b")) == [("k", 2, 8)]
    assert out_records(driver.create_output_topic("c")) == [("k", 20, 8)]
