"""cogroup (KIP-150) through the test driver. Expected outputs are Kafka Streams' own, from
CogroupedKStreamImplTest, TimeWindowedCogroupedKStreamImplTest and
SessionWindowedCogroupedKStreamImplTest (MockAggregator.TOSTRING_ADDER is `agg + "+" + v`,
TOSTRING_REMOVER `agg + "-" + v`, MockInitializer.STRING_INIT `"0"`)."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import TopologyError
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows

S = serdes.STRING


def concat(key: Any, value: Any, agg: str) -> str:
    return agg + value


def adder(key: Any, value: Any, agg: str) -> str:
    return f"{agg}+{value}"


def remover(key: Any, value: Any, agg: str) -> str:
    return f"{agg}-{value}"


def strsum(key: Any, value: str, agg: int) -> int:
    return agg + int(value)


def records(out: Any) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()]


def two_streams(builder: sk.StreamsBuilder, vs2: Any = S) -> tuple[Any, Any]:
    one = builder.stream("one", key_serde=S, value_serde=S).group_by_key()
    two = builder.stream("two", key_serde=S, value_serde=vs2).group_by_key()
    return one, two


def test_single_stream_cogroup(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    one = builder.stream("one", key_serde=S, value_serde=S).group_by_key()
    one.cogroup(concat).aggregate(str).to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    inp = driver.create_input_topic("one", value_serde=S)
    for key in ("k1", "k2", "k2", "k1"):
        inp.pipe_input(key, "A" if key == "k1" else "B", timestamp_ms=0)
    inp.pipe_input("k2", None, timestamp_ms=0)  # testCogroupHandleNullValues: dropped
    out = driver.create_output_topic("out", value_serde=S)
    assert records(out) == [("k1", "A", 0), ("k2", "B", 0), ("k2", "BB", 0), ("k1", "AA", 0)]


def test_two_streams_shared_keys_one_output_per_input(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    one, two = two_streams(builder)
    one.cogroup(concat).cogroup(two, concat).aggregate(str).to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    for key, ts in (("k1", 0), ("k2", 1), ("k1", 10), ("k2", 100)):
        a.pipe_input(key, "A", timestamp_ms=ts)
    for key, ts in (
        ("k2", 100),
        ("k2", 200),
        ("k1", 1),
        ("k2", 500),
        ("k1", 500),
        ("k2", 500),
        ("k3", 500),
        ("k2", 100),
    ):
        b.pipe_input(key, "B", timestamp_ms=ts)
    out = driver.create_output_topic("out", value_serde=S)
    assert records(out) == [
        ("k1", "A", 0),
        ("k2", "A", 1),
        ("k1", "AA", 10),
        ("k2", "AA", 100),
        ("k2", "AAB", 100),
        ("k2", "AABB", 200),
        ("k1", "AAB", 10),
        ("k2", "AABBB", 500),
        ("k1", "AABB", 500),
        ("k2", "AABBBB", 500),
        ("k3", "B", 500),
        ("k2", "AABBBBB", 500),
    ]


def test_different_input_types_into_one_store(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """shouldCoGroupStreamsWithDifferentInputTypes: strings and ints into one int sum."""
    one, two = two_streams(builder, serdes.INT)
    table = (
        one.cogroup(strsum)
        .cogroup(two, lambda k, v, agg: agg + v)
        .aggregate(int, materialized=sk.Materialized("store1", value_serde=serdes.INT))
    )
    table.to_stream().to("out", value_serde=serdes.INT)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=serdes.INT)
    for key, ts in (("k1", 0), ("k2", 1), ("k1", 10), ("k2", 100)):
        a.pipe_input(key, "1", timestamp_ms=ts)
    for key, value, ts in (
        ("k2", 2, 100),
        ("k2", 2, 200),
        ("k1", 2, 1),
        ("k2", 2, 500),
        ("k1", 2, 500),
        ("k2", 3, 500),
        ("k3", 2, 500),
        ("k2", 2, 100),
    ):
        b.pipe_input(key, value, timestamp_ms=ts)
    out = driver.create_output_topic("out", value_serde=serdes.INT)
    assert records(out)[:10] == [
        ("k1", 1, 0),
        ("k2", 1, 1),
        ("k1", 2, 10),
        ("k2", 2, 100),
        ("k2", 4, 100),
        ("k2", 6, 200),
        ("k1", 4, 10),
        ("k2", 8, 500),
        ("k1", 6, 500),
        ("k2", 11, 500),
    ]
    store = driver.get_key_value_store("store1")
    assert (store.get("k1"), store.get("k2"), store.get("k3")) == (6, 13, 2)


def test_mixed_aggregators(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """testCogroupKeyMixedAggregators."""
    one, two = two_streams(builder)
    one.cogroup(remover).cogroup(two, adder).aggregate(
        lambda: "0", materialized=sk.Materialized("store1", value_serde=S)
    ).to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    for key, ts in (("k1", 0), ("k2", 1), ("k1", 10), ("k2", 100)):
        a.pipe_input(key, "1", timestamp_ms=ts)
    for key, ts in (("k1", 500), ("k2", 500), ("k1", 500), ("k2", 100)):
        b.pipe_input(key, "2", timestamp_ms=ts)
    out = driver.create_output_topic("out", value_serde=S)
    assert records(out) == [
        ("k1", "0-1", 0),
        ("k2", "0-1", 1),
        ("k1", "0-1-1", 10),
        ("k2", "0-1-1", 100),
        ("k1", "0-1-1+2", 500),
        ("k2", "0-1-1+2", 500),
        ("k1", "0-1-1+2+2", 500),
        ("k2", "0-1-1+2+2", 500),
    ]


def test_repartitions_a_rekeyed_stream_as_kafka_names_it(builder: sk.StreamsBuilder) -> None:
    """shouldInsertRepartitionsTopicForUpstreamKeyModification's topology."""
    s1 = builder.stream("one", key_serde=S, value_serde=S)
    s2 = builder.stream("two", key_serde=S, value_serde=S)
    one = s1.map(lambda k, v: (v, k)).group_by_key(key_serde=S, value_serde=S)
    two = s2.group_by_key()
    one.cogroup(concat).cogroup(two, concat).aggregate(
        str, materialized=sk.Materialized("store"), name="test"
    ).to_stream().to("output")
    text = builder.build().describe()
    assert "Sink: store-repartition-sink (topic: store-repartition)" in text
    assert "Source: store-repartition-source (topics: [store-repartition])" in text
    assert "Processor: test-cogroup-agg-0 (stores: [store])" in text
    assert "Processor: test-cogroup-agg-1 (stores: [store])" in text
    assert "<-- test-cogroup-agg-0, test-cogroup-agg-1" in text
    assert "Sub-topology: 1" in text


def test_repartitioned_cogroup_aggregates_by_the_new_key(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    s1 = builder.stream("one", key_serde=S, value_serde=S)
    two = builder.stream("two", key_serde=S, value_serde=S).group_by_key()
    one = s1.group_by(lambda k, v: v, key_serde=S, value_serde=S)
    one.cogroup(lambda k, v, agg: agg + [f"one:{v}"]).cogroup(
        two, lambda k, v, agg: agg + [f"two:{v}"]
    ).aggregate(list, materialized=sk.Materialized("agg")).to_stream().to("out")
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    a.pipe_input("x", "k1", timestamp_ms=1)
    b.pipe_input("k1", "v", timestamp_ms=2)
    a.pipe_input("y", "k2", timestamp_ms=3)
    out = driver.create_output_topic("out")
    assert out.read_key_values_to_list() == [
        ("k1", ["one:k1"]),
        ("k1", ["one:k1", "two:v"]),
        ("k2", ["one:k2"]),
    ]


def _windowed(builder: sk.StreamsBuilder, windows: Any) -> Any:
    one, two = two_streams(builder)
    return one.cogroup(adder).cogroup(two, remover).windowed_by(windows)


def windowed_records(out: Any) -> list[tuple[Any, Any, int]]:
    return [(r.key.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()]


def test_time_windowed_mixed_aggregators_many_windows(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    """timeWindowMixAggregatorsManyWindowsTest (TimeWindows.of(500ms))."""
    table = _windowed(builder, TimeWindows.of_size_with_no_grace(500)).aggregate(
        lambda: "0", materialized=sk.Materialized(value_serde=S)
    )
    table.to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    for key, ts in (("k1", 0), ("k2", 0), ("k2", 1), ("k1", 2)):
        a.pipe_input(key, "A", timestamp_ms=ts)
    for key, ts in (("k1", 3), ("k2", 3), ("k2", 501), ("k1", 501)):
        b.pipe_input(key, "B", timestamp_ms=ts)
    out = driver.create_output_topic("out", key_serde=table.key_serde, value_serde=S)
    assert windowed_records(out) == [
        ("k1", "0+A", 0),
        ("k2", "0+A", 0),
        ("k2", "0+A+A", 1),
        ("k1", "0+A+A", 2),
        ("k1", "0+A+A-B", 3),
        ("k2", "0+A+A-B", 3),
        ("k2", "0-B", 501),
        ("k1", "0-B", 501),
    ]


def test_hopping_windows(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """timeWindowAggregateOverlappingWindowsTest (500 ms windows advancing by 200 ms)."""
    one = builder.stream("one", key_serde=S, value_serde=S).group_by_key()
    windows = TimeWindows.of_size_with_no_grace(500).advance_by(200)
    one.cogroup(adder).windowed_by(windows).aggregate(
        lambda: "0", materialized=sk.Materialized(value_serde=S)
    ).to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    for key, value, ts in (
        ("k1", "A", 0),
        ("k2", "A", 0),
        ("k1", "B", 250),
        ("k2", "B", 250),
        ("k2", "A", 500),
        ("k1", "A", 500),
    ):
        a.pipe_input(key, value, timestamp_ms=ts)
    out = driver.create_output_topic("out", key_serde=serdes.BYTES, value_serde=S)
    assert [(r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [
        ("0+A", 0),
        ("0+A", 0),
        ("0+A+B", 250),
        ("0+B", 250),
        ("0+A+B", 250),
        ("0+B", 250),
        ("0+B+A", 500),
        ("0+A", 500),
        ("0+B+A", 500),
        ("0+A", 500),
    ]


def test_session_windows_mixed_aggregators(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """sessionWindowMixAggregatorsManyWindowsTest (inactivity gap 100 ms)."""
    table = _windowed(builder, SessionWindows.of_inactivity_gap_with_no_grace(100)).aggregate(
        lambda: "0", lambda k, a1, a2: f"{a1}+{a2}", materialized=sk.Materialized("sessions")
    )
    table.to_stream().to("out")
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    for key, ts in (("k1", 0), ("k11", 0), ("k11", 1), ("k1", 2)):
        a.pipe_input(key, "A", timestamp_ms=ts)
    for key, ts in (("k1", 3), ("k11", 500), ("k11", 501), ("k1", 501)):
        b.pipe_input(key, "B", timestamp_ms=ts)
    out = driver.create_output_topic("out", key_serde=table.key_serde)
    last: dict[tuple[str, int, int], Any] = {}
    for r in out.read_records_to_list():
        last[(r.key.key, r.key.window.start, r.key.window.end)] = (r.value, r.timestamp_ms)
    assert last[("k1", 0, 3)] == ("0+0+0+A+A-B", 3)
    assert last[("k11", 500, 501)] == ("0+0-B-B", 501)
    assert last[("k1", 501, 501)] == ("0-B", 501)
    sessions = driver.get_session_store("sessions")
    assert sessions is not None


def test_sliding_windows(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """A cogrouped sliding aggregation equals the plain sliding aggregation of the merged
    inputs (Kafka builds both from KStreamSlidingWindowAggregate)."""
    windows = SlidingWindows.of_time_difference_and_grace(100, 1000)
    one, two = two_streams(builder)
    one.cogroup(adder).cogroup(two, adder).windowed_by(windows).aggregate(
        lambda: "0", materialized=sk.Materialized(value_serde=S)
    ).to_stream().to("out", value_serde=S)
    other = sk.StreamsBuilder()
    other.stream("one", key_serde=S, value_serde=S).group_by_key().windowed_by(windows).aggregate(
        lambda: "0", adder, materialized=sk.Materialized(value_serde=S)
    ).to_stream().to("out", value_serde=S)
    inputs = [
        ("one", "k", "a", 10),
        ("two", "k", "b", 50),
        ("one", "k", "c", 120),
        ("two", "k", "d", 90),
        ("one", "k", "e", 400),
    ]
    driver, ref = make_driver(builder), make_driver(other)
    for topic, key, value, ts in inputs:
        driver.create_input_topic(topic, value_serde=S).pipe_input(key, value, timestamp_ms=ts)
        ref.create_input_topic("one", value_serde=S).pipe_input(key, value, timestamp_ms=ts)
    got = driver.create_output_topic("out", key_serde=serdes.BYTES, value_serde=S)
    want = ref.create_output_topic("out", key_serde=serdes.BYTES, value_serde=S)
    expected = records(want)
    assert len(expected) > len(inputs)
    assert records(got) == expected


def test_cogroup_rejects_misuse(builder: sk.StreamsBuilder) -> None:
    one, two = two_streams(builder)
    cog = one.cogroup(concat)
    with pytest.raises(TopologyError, match="aggregator"):
        cog.cogroup(two, None)  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="already part"):
        cog.cogroup(one, concat)
    with pytest.raises(TopologyError, match="KGroupedStream"):
        cog.cogroup(builder.stream("three"), concat)  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="windowed_by"):
        cog.windowed_by(5)


def test_each_input_keeps_its_own_stream_time(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """Kafka's cogroup window processors each track their own observed stream time: a record
    of the lagging input is not late because the other input ran ahead."""
    table = _windowed(builder, TimeWindows.of_size_with_no_grace(10)).aggregate(
        lambda: "0", materialized=sk.Materialized(value_serde=S)
    )
    table.to_stream().to("out", value_serde=S)
    driver = make_driver(builder)
    a = driver.create_input_topic("one", value_serde=S)
    b = driver.create_input_topic("two", value_serde=S)
    a.pipe_input("k", "A", timestamp_ms=100)
    b.pipe_input("k", "B", timestamp_ms=5)  # late for stream one's time, not for its own
    a.pipe_input("k", "A", timestamp_ms=6)  # late for stream one: its window closed at 100
    out = driver.create_output_topic("out", key_serde=table.key_serde, value_serde=S)
    assert [(r.key.window.start, r.value) for r in out.read_records_to_list()] == [
        (100, "0+A"),
        (0, "0-B"),
    ]
