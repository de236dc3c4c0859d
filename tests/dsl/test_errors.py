"""Bad input: failing callbacks and serdes name the operator and the record; DSL misuse fails
early with a sentence that says what to do."""

from __future__ import annotations

import re
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.processor.api import Processor, ProcessorContext, PunctuationType, Record
from streamz_kit.testing import TopologyTestDriver


def _boom(k: Any, v: Any) -> bool:
    if v == "bad":
        raise ValueError("cannot handle bad")
    return True


def test_processing_error_carries_coordinates_and_cause(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").map_values(lambda v: v, name="identity").filter(
        _boom, name="check-values"
    ).to("out")
    topology = builder.build()
    assert "Processor: check-values (stores: [])" in topology.describe()
    driver = make_driver(topology)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", "ok")
    inp.pipe_input("b", "fine")
    with pytest.raises(sk.StreamsProcessingError) as info:
        inp.pipe_input("c", "bad")
    err = info.value
    assert (err.node, err.topic, err.partition, err.offset) == ("check-values", "in", 0, 2)
    message = str(err)
    assert "check-values" in message
    assert "in-0@2" in message
    assert "ValueError: cannot handle bad" in message
    assert isinstance(err.__cause__, ValueError)
    assert str(err.__cause__) == "cannot handle bad"
    assert driver.create_output_topic("out").read_values_to_list() == ["ok", "fine"]


def test_error_after_repartition_names_the_internal_topic(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    def reducer(agg: Any, value: Any) -> Any:
        raise KeyError("missing")

    builder.stream("in").group_by(lambda k, v: v).reduce(reducer, materialized=sk.Materialized("r"))
    topology = builder.build()
    driver = make_driver(topology, config={"application_id": "app"})
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", "x")
    with pytest.raises(sk.StreamsProcessingError) as info:
        inp.pipe_input("b", "x")
    err = info.value
    assert err.node is not None and err.node.startswith("KSTREAM-REDUCE-")
    assert f"Processor: {err.node} (stores: [r])" in topology.describe()
    assert err.topic == "app-r-repartition"
    assert (err.partition, err.offset) == (0, 1)
    assert isinstance(err.__cause__, KeyError)


def test_map_not_returning_a_pair(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").map(lambda k, v: v, name="bad-map").to("out")
    driver = make_driver(builder)
    with pytest.raises(sk.StreamsProcessingError) as info:
        driver.create_input_topic("in").pipe_input("k", 5)
    message = str(info.value)
    assert "bad-map" in message
    assert "(key, value) pair" in message
    assert "map_values" in message  # says what to do
    assert isinstance(info.value.__cause__, TypeError)


def test_flat_map_yielding_non_pairs(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").flat_map(lambda k, v: [v]).to("out")
    driver = make_driver(builder)
    with pytest.raises(sk.StreamsProcessingError, match="flat_map_values"):
        driver.create_input_topic("in").pipe_input("k", 5)


def test_value_serde_failure_names_topic_and_shows_truncated_bytes(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in", value_serde=serdes.JSON).to("out")
    driver = make_driver(builder)
    raw = driver.create_input_topic("in", value_serde=serdes.BYTES)
    payload = b"not json " + b"x" * 500
    with pytest.raises(sk.StreamsProcessingError) as info:
        raw.pipe_input("k", payload)
    message = str(info.value)
    assert "'in'" in message and "in-0@0" in message
    assert "b'not json xxx" in message
    assert "(509 bytes)" in message
    assert len(message) < 1000  # truncated, not the whole payload
    assert info.value.topic == "in"
    assert isinstance(info.value.__cause__, sk.SerializationError)


def test_key_serde_failure_names_the_key(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in", key_serde=serdes.LONG).to("out")
    driver = make_driver(builder)
    raw = driver.create_input_topic("in", key_serde=serdes.BYTES)
    with pytest.raises(sk.StreamsProcessingError, match=r"key of the record at in-0@0.*b'abc'"):
        raw.pipe_input(b"abc", 1)


def test_sink_serde_failure_names_sink_and_topic(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").to("out", value_serde=serdes.LONG, name="to-out")
    driver = make_driver(builder)
    with pytest.raises(sk.StreamsProcessingError) as info:
        driver.create_input_topic("in").pipe_input("k", "not a number")
    message = str(info.value)
    assert "to-out" in message and "'out'" in message
    assert isinstance(info.value.__cause__, sk.SerializationError)


def test_failing_punctuation_names_the_processor(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    class Faulty(Processor[Any, Any]):
        def init(self, context: ProcessorContext) -> None:
            context.schedule(1000, PunctuationType.WALL_CLOCK_TIME, self.tick)

        def tick(self, timestamp: int) -> None:
            raise RuntimeError("tick failed")

        def process(self, record: Record[Any, Any]) -> None:
            return None

    builder.stream("in").process(Faulty, name="faulty")
    driver = make_driver(builder)
    with pytest.raises(sk.StreamsProcessingError) as info:
        driver.advance_wall_clock_time(1000)
    assert "faulty" in str(info.value) and "punctuation" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_store_name_used_twice(builder: sk.StreamsBuilder) -> None:
    stream = builder.stream("in")
    stream.group_by_key().count(materialized=sk.Materialized("dup"))
    with pytest.raises(sk.TopologyError, match="'dup' is already registered"):
        stream.group_by_key().reduce(lambda a, b: b, materialized=sk.Materialized("dup"))


def test_state_store_builder_added_twice(builder: sk.StreamsBuilder) -> None:
    builder.add_state_store(
        sk.stores.key_value_store_builder("s", key_serde=serdes.STRING, value_serde=serdes.LONG)
    )
    with pytest.raises(sk.TopologyError, match="unique"):
        builder.add_state_store(
            sk.stores.key_value_store_builder("s", key_serde=serdes.STRING, value_serde=serdes.JSON)
        )


def test_processor_names_must_be_unique(builder: sk.StreamsBuilder) -> None:
    stream = builder.stream("in")
    stream.filter(lambda k, v: True, name="same")
    with pytest.raises(sk.TopologyError, match="'same' already exists"):
        stream.map_values(lambda v: v, name="same")


def test_repartition_name_used_twice(builder: sk.StreamsBuilder) -> None:
    stream = builder.stream("in")
    stream.repartition(name="r")
    with pytest.raises(sk.TopologyError, match="r-repartition"):
        stream.repartition(name="r")


def test_unknown_input_topic_in_driver(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").to("out")
    driver = make_driver(builder)
    with pytest.raises(sk.TopologyError, match=re.escape("input topics are ['in']")):
        driver.create_input_topic("nope")


def test_build_of_empty_topology(builder: sk.StreamsBuilder) -> None:
    with pytest.raises(sk.TopologyError, match="empty"):
        builder.build()


def test_driver_needs_a_topology(builder: sk.StreamsBuilder) -> None:
    builder.stream("in")
    with pytest.raises(sk.TopologyError, match=r"builder.build()"):
        TopologyTestDriver(builder)  # type: ignore[arg-type]


def test_closed_driver_refuses_input(builder: sk.StreamsBuilder) -> None:
    builder.stream("in").to("out")
    driver = TopologyTestDriver(builder.build())
    inp = driver.create_input_topic("in")
    driver.close()
    with pytest.raises(sk.StreamzError, match="closed"):
        inp.pipe_input("k", 1)


def test_unknown_store_in_driver(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").group_by_key().count(materialized=sk.Materialized("c"))
    driver = make_driver(builder)
    with pytest.raises(sk.StreamzError, match=r"No state store named 'x'.*\['c'\]"):
        driver.get_key_value_store("x")


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.filter(None),
        lambda s: s.map("not callable"),
        lambda s: s.flat_map_values(3),
        lambda s: s.to(""),
        lambda s: s.to(42),
        lambda s: s.merge("x"),
        lambda s: s.repartition(num_partitions=0),
        lambda s: s.group_by_key().reduce(None),
        lambda s: s.group_by_key().aggregate(dict, None),
        lambda s: s.split().branch(lambda k, v: True, name="a").branch(lambda k, v: True, name="a"),
    ],
)
def test_dsl_misuse_fails_at_build_time(builder: sk.StreamsBuilder, call: Any) -> None:
    with pytest.raises(sk.TopologyError):
        call(builder.stream("in"))


def test_merge_across_builders_is_refused() -> None:
    a = sk.StreamsBuilder().stream("a")
    b = sk.StreamsBuilder().stream("b")
    with pytest.raises(sk.TopologyError, match="same StreamsBuilder"):
        a.merge(b)


def test_bad_store_name_and_type() -> None:
    with pytest.raises(sk.TopologyError, match="letters, digits"):
        sk.stores.key_value_store_builder("a/b", key_serde=serdes.STRING, value_serde=serdes.LONG)
    with pytest.raises(sk.TopologyError, match="rocksdb"):
        sk.Materialized("x", store="redis")


def test_failing_timestamp_extractor_names_the_source(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in", timestamp_extractor=lambda k, v, ts: v["t"]).to("out")
    driver = make_driver(builder)
    with pytest.raises(sk.StreamsProcessingError) as info:
        driver.create_input_topic("in").pipe_input("k", {})
    assert info.value.node == "KSTREAM-SOURCE-0000000000"
    assert isinstance(info.value.__cause__, KeyError)


def test_driver_that_fails_to_start_leaks_nothing(
    builder: sk.StreamsBuilder, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    class Broken(Processor[Any, Any]):
        def init(self, context: ProcessorContext) -> None:
            raise RuntimeError("init failed")

        def process(self, record: Record[Any, Any]) -> None:
            return None

    builder.stream("in").group_by_key().count(materialized=sk.Materialized("c"))
    builder.stream("other").process(Broken, name="broken")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(sk.StreamzError, match="broken"):
        TopologyTestDriver(builder.build())
    assert list(tmp_path.iterdir()) == []  # stores closed, state directory removed
