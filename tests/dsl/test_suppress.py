"""suppress(Suppressed.until_window_closes()): exactly one final result per window."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import StreamsProcessingError, TopologyError
from streamz_kit.runtime.task import Task
from streamz_kit.serdes_windowed import session_windowed, time_windowed
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.transport.port import ConsumedRecord


def _topology(windows: Any, suppressed: sk.Suppressed | None = None) -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .windowed_by(windows)
        .count()
        .suppress(suppressed or sk.Suppressed.until_window_closes(), name="final")
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    return builder.build()


def _rows(out: Any) -> list[tuple[str, int, int, int, int]]:
    return [
        (r.key.key, r.key.window.start, r.key.window.end, r.value, r.timestamp_ms)
        for r in out.read_records_to_list()
    ]


def _open(topology: sk.Topology, key_serde: Any) -> tuple[TopologyTestDriver, Any, Any]:
    driver = TopologyTestDriver(topology)
    inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
    out = driver.create_output_topic("out", key_serde=key_serde, value_serde=serdes.LONG)
    return driver, inp, out


def test_emits_once_per_window_when_stream_time_passes_end_plus_grace() -> None:
    topology = _topology(sk.TimeWindows.of_size_and_grace(10, 5))
    driver, inp, out = _open(topology, time_windowed(serdes.STRING, 10))
    with driver:
        for key, ts in (("a", 1), ("a", 3), ("b", 5), ("a", 12), ("a", 8)):
            inp.pipe_input(key, "v", ts)
        assert out.is_empty()  # stream time 12 < 10 + 5
        inp.pipe_input("a", "v", 14)
        assert out.is_empty()
        inp.pipe_input("c", "v", 15)  # window [0,10) closes
        assert _rows(out) == [("a", 0, 10, 3, 8), ("b", 0, 10, 1, 5)]
        inp.pipe_input("a", "v", 9)  # late: dropped upstream, nothing new
        inp.pipe_input("a", "v", 24)
        assert out.is_empty()
        inp.pipe_input("a", "v", 25)  # [10,20) closes
        assert _rows(out) == [("a", 10, 20, 2, 14), ("c", 10, 20, 1, 15)]


def test_a_record_dropped_upstream_does_not_move_the_suppression_stream_time() -> None:
    """Kafka's KTableSuppressProcessor observes only the updates that reach it (expected
    output from Kafka Streams 4.4's TopologyTestDriver, cache off)."""
    topology = _topology(sk.TimeWindows.of_size_with_no_grace(10))
    driver, inp, out = _open(topology, time_windowed(serdes.STRING, 10))
    with driver:
        inp.pipe_input("a", "v", 1)
        inp.pipe_input(None, "v", 30)  # dropped by the aggregation (null key)
        assert out.is_empty()
        inp.pipe_input("b", "v", 31)
        assert _rows(out) == [("a", 0, 10, 1, 1)]


def test_session_windows_close_after_gap_plus_grace() -> None:
    topology = _topology(sk.SessionWindows.of_inactivity_gap_and_grace(5, 2))
    driver, inp, out = _open(topology, session_windowed(serdes.STRING))
    with driver:
        inp.pipe_input("a", "v", 1)
        inp.pipe_input("a", "v", 4)  # session [1,4]; the [1,1] tombstone is never emitted
        inp.pipe_input("b", "v", 10)
        assert out.is_empty()  # closes at 4 + 5 + 2 = 11
        inp.pipe_input("b", "v", 11)
        assert _rows(out) == [("a", 1, 4, 2, 4)]


def test_buffer_is_changelogged_and_survives_a_restart() -> None:
    topology = _topology(sk.TimeWindows.of_size_with_no_grace(10))
    assert topology.store_builder("final-store").logging
    driver, inp, out = _open(topology, time_windowed(serdes.STRING, 10))
    with driver:
        inp.pipe_input("a", "v", 1)
        inp.pipe_input("a", "v", 2)
        assert out.is_empty()
        assert driver.stores["final-store"].approximate_num_entries() == 1
        # A new task over the same (restored) stores emits the pending final result.
        task = Task(
            topology=topology,
            subtopology=topology.subtopologies[0],
            partition=0,
            application_id="restarted",
            stores=driver.stores,
            partition_count=lambda topic: 1,
        ).start()
        task.process(ConsumedRecord("in", 0, 0, 20, b"b", b"v", ()))
        produced = [rec for rec in task.drain_output() if rec.topic == "out"]
        key_serde = time_windowed(serdes.STRING, 10)
        assert [
            (key_serde.deserialize("out", r.key), serdes.LONG.deserialize("out", r.value))
            for r in produced
        ] == [(sk.Windowed("a", sk.Window(0, 10)), 2)]


def test_max_records_bound_fails_loudly() -> None:
    topology = _topology(
        sk.TimeWindows.of_size_with_no_grace(10), sk.Suppressed.until_window_closes(max_records=1)
    )
    driver, inp, _ = _open(topology, time_windowed(serdes.STRING, 10))
    with driver:
        inp.pipe_input("a", "v", 1)
        with pytest.raises(StreamsProcessingError, match="max_records"):
            inp.pipe_input("b", "v", 2)


def test_suppress_needs_a_windowed_table() -> None:
    builder = sk.StreamsBuilder()
    table = builder.stream("in").group_by_key().count()
    with pytest.raises(TopologyError, match="windowed"):
        table.suppress(sk.Suppressed.until_window_closes())


def test_suppress_after_filter_finds_the_window_grace() -> None:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_with_no_grace(10))
        .count()
        .filter(lambda k, v: k.key != "x")
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    driver, inp, out = _open(builder.build(), time_windowed(serdes.STRING, 10))
    with driver:
        inp.pipe_input("x", "v", 1)
        inp.pipe_input("a", "v", 2)
        inp.pipe_input("a", "v", 10)
        assert _rows(out) == [("a", 0, 10, 1, 2)]
