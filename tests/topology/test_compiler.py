"""The topology compiler: sub-topology splitting, deterministic names, internal topics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import streamz_kit as sk
from streamz_kit import serdes

def build():
    b = sk.StreamsBuilder()
    s = b.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
    s.filter(lambda k, v: v is not None).to("copy")
    grouped = s.group_by(lambda k, v: v["user"])
    grouped.count().to_stream().to("counts", value_serde=serdes.LONG)
    s.select_key(lambda k, v: v["user"]).repartition().group_by_key().reduce(lambda a, b: b)
    t = b.table("users")
    t.group_by(lambda k, v: (v["team"], 1)).reduce(lambda a, b: a + b, lambda a, b: a - b)
    t.filter(lambda k, v: True).map_values(lambda v: v).to_stream().to("users-out")
    return b.build()
"""


def _build() -> sk.Topology:
    namespace: dict[str, Any] = {}
    exec(SCRIPT, namespace)  # noqa: S102 - the same text the subprocess test runs
    return namespace["build"]()  # type: ignore[no-any-return]


def _fingerprint(topology: sk.Topology) -> tuple[Any, ...]:
    with TopologyTestDriver(topology, config={"application_id": "app"}) as driver:
        internal = sorted(topic for task in driver.tasks for topic in task.sources)
    return (
        topology.describe(),
        topology.to_mermaid(),
        topology.repartition_topics,
        topology.store_names,
        internal,
    )


def test_same_script_gives_same_names() -> None:
    first, second = _fingerprint(_build()), _fingerprint(_build())
    assert first == second
    assert first[2] == [
        "KSTREAM-AGGREGATE-STATE-STORE-0000000005-repartition",
        "KSTREAM-REPARTITION-0000000012-repartition",  # repartition() then group_by_key
        "KTABLE-REDUCE-STATE-STORE-0000000022-repartition",
    ]
    # repartition() names its sink, null-key filter and source (KIP-962), as Kafka does
    assert first[3] == [
        "KSTREAM-AGGREGATE-STATE-STORE-0000000005",
        "KSTREAM-REDUCE-STATE-STORE-0000000017",
        "users-STATE-STORE-0000000019",
        "KTABLE-REDUCE-STATE-STORE-0000000022",
    ]
    # The driver's tasks read the internal topics under the application id's prefix.
    assert "app-KSTREAM-REPARTITION-0000000012-repartition" in first[4]


def test_names_do_not_depend_on_the_process() -> None:
    """A restarted application (a new interpreter, another hash seed) finds the same topics."""
    code = SCRIPT + "\nt = build()\nprint(t.describe(), t.repartition_topics, t.store_names)\n"
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            cwd=ROOT,
        )
        outputs.append(result.stdout)
    topology = _build()
    expected = f"{topology.describe()} {topology.repartition_topics} {topology.store_names}\n"
    assert outputs == [expected, expected]


def test_key_change_then_grouping_splits_subtopologies() -> None:
    topology = _build()
    subs = topology.subtopologies
    assert [s.id for s in subs] == list(range(len(subs)))
    # in -> (copy, three repartition sinks); one per repartition source; the table's own.
    assert subs[0].source_topics == ["in"]
    assert sorted(subs[0].sink_topics) == sorted(
        [
            "copy",
            "KSTREAM-AGGREGATE-STATE-STORE-0000000005-repartition",
            "KSTREAM-REPARTITION-0000000012-repartition",
        ]
    )
    by_source = {tuple(s.source_topics): s for s in subs}
    # An explicit repartition() already partitions by key: group_by_key adds no second topic.
    assert by_source[("KSTREAM-REPARTITION-0000000012-repartition",)].stores == [
        "KSTREAM-REDUCE-STATE-STORE-0000000017"
    ]
    assert by_source[("users",)].stores == ["users-STATE-STORE-0000000019"]
    assert by_source[("users",)].sink_topics == [
        "KTABLE-REDUCE-STATE-STORE-0000000022-repartition",
        "users-out",
    ]
    assert len(subs) == 5
    every_node = [n for s in subs for n in s.nodes]
    assert sorted(every_node) == sorted(topology.graph.nodes)  # each node in exactly one


def test_no_repartition_without_key_change() -> None:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in")
    stream.map_values(lambda v: v).flat_map_values(lambda v: [v]).peek(print).group_by_key().count()
    stream.to_table()
    topology = builder.build()
    assert topology.repartition_topics == []
    assert len(topology.subtopologies) == 1


def test_merge_of_rekeyed_stream_repartitions_before_grouping() -> None:
    builder = sk.StreamsBuilder()
    a = builder.stream("a")
    b = builder.stream("b").select_key(lambda k, v: v)
    a.merge(b).group_by_key().count(materialized=sk.Materialized("c"))
    topology = builder.build()
    assert topology.repartition_topics == ["c-repartition"]
    with TopologyTestDriver(topology) as driver:
        driver.create_input_topic("a").pipe_input("x", "1")
        driver.create_input_topic("b").pipe_input("ignored", "x")
        assert dict(driver.get_key_value_store("c").all()) == {"x": 2}


def test_shared_store_joins_subtopologies() -> None:
    """Two processors on one store must run in the same task."""
    from streamz_kit.processor.api import Processor, Record

    class Noop(Processor[Any, Any]):
        def process(self, record: Record[Any, Any]) -> None:
            return None

    builder = sk.StreamsBuilder()
    builder.add_state_store(
        sk.stores.key_value_store_builder(
            "shared", key_serde=serdes.STRING, value_serde=serdes.LONG
        )
    )
    builder.stream("a").process(Noop, stores=["shared"])
    builder.stream("b").process(Noop, stores=["shared"])
    topology = builder.build()
    assert len(topology.subtopologies) == 1
    assert topology.subtopologies[0].source_topics == ["a", "b"]
    assert topology.subtopologies[0].stores == ["shared"]


def test_independent_streams_are_separate_subtopologies() -> None:
    builder = sk.StreamsBuilder()
    builder.stream("a").to("x")
    builder.stream("b").to("y")
    topology = builder.build()
    assert [s.source_topics for s in topology.subtopologies] == [["a"], ["b"]]
    assert topology.subtopology_for_topic("b") is topology.subtopologies[1]
    assert topology.subtopology_for_topic("nope") is None
