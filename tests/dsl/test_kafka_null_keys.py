"""Null keys as Kafka Streams 4.x handles them (KIP-962), checked against Kafka itself.

Every expected output was produced by Kafka Streams 4.4's TopologyTestDriver (cache off)
running the same topology in Java with String serdes and the joiner `l + "+" + r` (Java
writes null as "null"). "Re-keyed" streams use `selectKey((k, v) -> v starts with "n" ?
null : k)`, so a value starting with "n" gives the record a null key. Each step is
(topic, key, value, timestamp) -> the records that input produced on "out".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver

S = serdes.STRING
Step = tuple[tuple[str, str | None, str | None, int], list[str]]


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def _joiner(left: Any, right: Any) -> str:
    return f"{_text(left)}+{_text(right)}"


def _rekey(key: Any, value: Any) -> Any:
    return None if value is None or value.startswith("n") else key


def _run(build: Callable[[sk.StreamsBuilder, Any], Any], steps: list[Step]) -> TopologyTestDriver:
    builder = sk.StreamsBuilder()
    build(builder, builder.stream("in", key_serde=S, value_serde=S)).to(
        "out", key_serde=S, value_serde=S
    )
    driver = TopologyTestDriver(builder.build(), config={"cache_max_bytes": 0})
    topics: dict[str, Any] = {}
    out = driver.create_output_topic("out", key_serde=S, value_serde=S)
    got = []
    for (topic, key, value, ts), _ in steps:
        if topic not in topics:
            topics[topic] = driver.create_input_topic(topic, key_serde=S, value_serde=S)
        topics[topic].pipe_input(key, value, ts)
        got.append(
            [
                f"{_text(r.key)} {_text(r.value)} {r.timestamp_ms}"
                for r in out.read_records_to_list()
            ]
        )
    assert got == [expected for _, expected in steps]
    return driver


def _skipped(driver: TopologyTestDriver) -> int:
    return sum(sum(task.skipped.values()) for task in driver.tasks)


def test_stream_table_left_join_emits_a_null_key_record_joined_with_null() -> None:
    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        return stream.left_join(b.table("right", key_serde=S, value_serde=S), _joiner)

    driver = _run(
        build,
        [
            (("right", "a", "t", 0), []),
            (("right", None, "t2", 0), []),
            (("in", None, "x", 1), ["null x+null 1"]),
            (("in", "a", None, 2), []),  # a null value is still skipped
            (("in", "a", "v", 3), ["a v+t 3"]),
            (("in", "b", "v", 4), ["b v+null 4"]),
        ],
    )
    with driver:
        assert _skipped(driver) == 2  # the table's null key, the stream's null value


def test_stream_table_inner_join_skips_null_keys() -> None:
    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        return stream.join(b.table("right", key_serde=S, value_serde=S), _joiner)

    with _run(
        build,
        [
            (("right", "a", "t", 0), []),
            (("in", None, "x", 1), []),
            (("in", "a", "v", 3), ["a v+t 3"]),
            (("in", "b", "v", 4), []),
        ],
    ):
        pass


def test_a_repartition_before_a_left_join_keeps_null_keys() -> None:
    """The null-key filter in front of the repartition topic is relaxed because a left
    join is downstream; the join emits the null-key record."""

    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        table = b.table("right", key_serde=S, value_serde=S)
        return stream.select_key(_rekey).left_join(table, _joiner)

    with _run(
        build,
        [
            (("right", "a", "t", 0), []),
            (("in", "a", "n1", 1), ["null n1+null 1"]),
            (("in", "a", "v", 3), ["a v+t 3"]),
            (("in", None, "v", 4), ["null v+null 4"]),
        ],
    ):
        pass


def test_a_repartition_without_a_left_join_drops_null_keys_silently() -> None:
    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        return stream.select_key(_rekey).repartition(key_serde=S, value_serde=S)

    driver = _run(
        build,
        [
            (("in", "a", "n1", 1), []),
            (("in", "a", "x", 2), ["a x 2"]),
            (("in", None, "x", 3), []),
            (("in", "b", None, 5), []),
            (("in", "a", "x", 6), ["a x 6"]),
        ],
    )
    with driver:
        assert _skipped(driver) == 0  # Kafka's filter counts no dropped record


def test_group_by_to_a_null_key_is_filtered_before_the_repartition_topic() -> None:
    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        grouped = stream.group_by(
            lambda k, v: None if v is None or v.startswith("n") else v,
            key_serde=S,
            value_serde=S,
        )
        return grouped.count().to_stream().map_values(str)

    driver = _run(
        build,
        [
            (("in", "a", "n1", 1), []),
            (("in", "a", "x", 2), ["x 1 2"]),
            (("in", None, "x", 3), ["x 2 3"]),
        ],
    )
    with driver:
        assert _skipped(driver) == 0


def test_stream_stream_outer_join_after_a_key_change_emits_null_keys_at_once() -> None:
    windows = sk.JoinWindows.of_time_difference_and_grace(5, 0)

    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        right = b.stream("right", key_serde=S, value_serde=S)
        return stream.select_key(_rekey).outer_join(right, _joiner, windows=windows)

    with _run(
        build,
        [
            (("right", "a", "w", 0), []),
            (("in", "a", "n1", 1), ["null n1+null 1"]),
            (("in", "a", "x", 2), ["a x+w 2"]),
            (("in", "b", "n2", 3), ["null n2+null 3"]),
        ],
    ):
        pass


def test_stream_stream_joins_handle_null_keys_per_side() -> None:
    """Left join: a null-key left record is emitted with null, a right one dropped; outer
    join: both emitted; inner join: neither."""
    windows = sk.JoinWindows.of_time_difference_and_grace(5, 0)
    steps_in: list[tuple[str, str | None, str | None, int]] = [
        ("in", None, "x", 0),
        ("right", None, "y", 0),
        ("in", "a", None, 1),
        ("right", "a", None, 1),
        ("in", "a", "v", 2),
        ("right", "a", "w", 3),
    ]
    expected = {
        "join": [[], [], [], [], [], ["a v+w 3"]],
        "left_join": [["null x+null 0"], [], [], [], [], ["a v+w 3"]],
        "outer_join": [["null x+null 0"], ["null null+y 0"], [], [], [], ["a v+w 3"]],
    }
    for method, outputs in expected.items():

        def build(b: sk.StreamsBuilder, stream: Any, method: str = method) -> Any:
            right = b.stream("right", key_serde=S, value_serde=S)
            return getattr(stream, method)(right, _joiner, windows=windows)

        with _run(build, list(zip(steps_in, outputs))):
            pass


def test_global_table_left_join_with_a_null_lookup_key_joins_with_null() -> None:
    calls: list[tuple[Any, Any]] = []

    def key_fn(key: Any, value: Any) -> Any:
        calls.append((key, value))
        return None if value is None or value.startswith("n") else value

    def build(b: sk.StreamsBuilder, stream: Any) -> Any:
        table = b.global_table("right", key_serde=S, value_serde=S)
        return stream.left_join(table, key_fn, _joiner)

    with _run(
        build,
        [
            (("right", "a", "t", 0), []),
            (("in", "a", "n1", 1), ["a n1+null 1"]),
            (("in", "a", "a", 3), ["a a+t 3"]),
            (("in", None, "a", 4), ["null a+t 4"]),  # the stream's own key plays no part
            (("in", "q", None, 5), []),  # a null value is skipped, after key_fn saw it
            (("in", "b", "b", 6), ["b b+null 6"]),
        ],
    ):
        assert ("q", None) in calls
