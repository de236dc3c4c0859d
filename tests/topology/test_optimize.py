"""Topology optimizations (topology/optimize.py): each pass on its own, then end to end.

The merged shape is Kafka Streams 4.4's `describe()` for the same topology with
`topology.optimization=all`: the key change feeds one `<topic>-filter` -> `<topic>-sink`,
and one `<topic>-source` feeds both aggregations, in two sub-topologies instead of three.
"""

from __future__ import annotations

from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.topology.optimize import merge_repartition_topics

S = serdes.STRING


def branches(builder: sk.StreamsBuilder, *, reduce_value_serde: Any = None) -> None:
    rekeyed = builder.stream("in", key_serde=S, value_serde=S).select_key(lambda k, v: v)
    rekeyed.group_by_key().count().to_stream().to("counts", value_serde=serdes.LONG)
    (
        rekeyed.group_by_key(value_serde=reduce_value_serde)
        .reduce(lambda a, b: a + b)
        .to_stream()
        .to("concat", value_serde=S)
    )


def test_merge_pass_folds_branches_into_the_first_repartition_topic() -> None:
    builder = sk.StreamsBuilder(optimize=False)
    branches(builder)
    graph = builder.graph
    first, second = list(graph.repartition_topics)
    assert merge_repartition_topics(graph) == [second]
    assert list(graph.repartition_topics) == [first]
    source = graph.nodes[f"{first}-source"]
    readers = sorted(n.name for n in graph.nodes.values() if source.name in n.parents)
    assert readers == ["KSTREAM-AGGREGATE-0000000002", "KSTREAM-REDUCE-0000000009"]
    assert graph.nodes[f"{first}-sink"].parents == [f"{first}-filter"]
    assert graph.nodes[f"{first}-filter"].parents == ["KSTREAM-KEY-SELECT-0000000001"]
    assert merge_repartition_topics(graph) == []  # idempotent


def test_optimized_topology_has_kafkas_shape_and_the_same_results() -> None:
    outputs = {}
    for optimize in (False, True):
        builder = sk.StreamsBuilder(optimize=optimize)
        branches(builder)
        topology = builder.build()
        text = topology.describe()
        if optimize:
            assert len(topology.repartition_topics) == 1
            assert len(topology.subtopologies) == 2
            topic = topology.repartition_topics[0]
            for suffix in ("filter", "sink", "source"):
                assert f"{topic}-{suffix}" in text
        else:
            assert len(topology.repartition_topics) == 2
            assert len(topology.subtopologies) == 3
        with TopologyTestDriver(topology) as driver:
            inp = driver.create_input_topic("in", key_serde=S, value_serde=S)
            for i, value in enumerate(["a", "b", "a", "c", "a", "b"]):
                inp.pipe_input(f"k{i}", value, i)
            counts = driver.create_output_topic("counts", key_serde=S, value_serde=serdes.LONG)
            concat = driver.create_output_topic("concat", key_serde=S, value_serde=S)
            outputs[optimize] = (counts.read_key_values_to_list(), concat.read_key_values_to_list())
    assert outputs[True] == outputs[False]
    assert outputs[True][0] == [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3), ("b", 2)]


def test_build_argument_overrides_the_builder_setting() -> None:
    builder = sk.StreamsBuilder()
    branches(builder)
    assert len(builder.build(optimize=False).repartition_topics) == 2


def test_branches_with_different_serdes_or_explicit_repartitions_stay_apart() -> None:
    builder = sk.StreamsBuilder()
    branches(builder, reduce_value_serde=serdes.BYTES)
    assert len(builder.build().repartition_topics) == 2

    builder = sk.StreamsBuilder()
    rekeyed = builder.stream("in", key_serde=S, value_serde=S).select_key(lambda k, v: v)
    rekeyed.repartition(name="one").to("o1")
    rekeyed.repartition(name="two").to("o2")
    assert sorted(builder.build().repartition_topics) == ["one-repartition", "two-repartition"]


def test_reuse_pass_picks_tables_read_straight_from_a_topic() -> None:
    from streamz_kit.topology.optimize import reuse_source_topics

    builder = sk.StreamsBuilder(optimize=False)
    users = builder.table("users", key_serde=S, value_serde=S, materialized=sk.Materialized("u"))
    builder.stream("orders", key_serde=S, value_serde=S).join(users, lambda a, b: a).to("out")
    builder.table(
        "prices",
        key_serde=S,
        value_serde=S,
        materialized=sk.Materialized("p", store="versioned", history_retention=10),
    )
    builder.stream("x", key_serde=S, value_serde=S).to_table(
        materialized=sk.Materialized("derived")
    )
    builder.global_table(
        "everywhere", key_serde=S, value_serde=S, materialized=sk.Materialized("g")
    )
    builder.table(
        "quiet", key_serde=S, value_serde=S, materialized=sk.Materialized("nolog", logging=False)
    )
    graph = builder.graph
    assert reuse_source_topics(graph) == {"u": "users", "p": "prices"}
    assert graph.source_changelogs == {"u": "users", "p": "prices"}
    assert not graph.store_builders["u"].logging  # no changelog topic of its own
    assert graph.store_builders["derived"].logging


def test_optimize_false_keeps_changelogs() -> None:
    builder = sk.StreamsBuilder()
    builder.table("users", key_serde=S, value_serde=S, materialized=sk.Materialized("u"))
    assert builder.build(optimize=False).store_builder("u").logging
