"""Emit-on-window-close (KIP-825): final results only, straight from the window store.

Expected outputs come from Kafka Streams 4.4's TopologyTestDriver running the same
topologies and inputs (`EmitStrategy.onWindowClose()`, cache off, emit interval 0), printed
as (key, start, end, count, timestamp) after each input record.
"""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import EmitStrategy, serdes
from streamz_kit.errors import TopologyError
from streamz_kit.serdes_windowed import session_windowed, time_windowed
from streamz_kit.testing import TopologyTestDriver

INPUT = [
    ("A", 1),
    ("B", 3),
    ("A", 12),
    ("B", 9),
    ("A", 15),
    ("A", 4),
    ("B", 25),
    ("A", 26),
    ("B", 8),
    ("A", 33),
]


def _run(windows: Any, *, session: bool = False) -> list[tuple[str, tuple[Any, ...]]]:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
    (
        stream.group_by_key()
        .windowed_by(windows)
        .emit_strategy(EmitStrategy.on_window_close())
        .count()
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    key_serde = session_windowed(serdes.STRING) if session else time_windowed(serdes.STRING, 10)
    seen: list[tuple[str, tuple[Any, ...]]] = []
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic("out", key_serde=key_serde, value_serde=serdes.LONG)
        for key, ts in INPUT:
            inp.pipe_input(key, "v", ts)
            for r in out.read_records_to_list():
                row = (r.key.key, r.key.window.start, r.key.window.end, r.value, r.timestamp_ms)
                seen.append((f"{key}@{ts}", row))
    return seen


def test_tumbling_windows_emit_once_when_closed() -> None:
    assert _run(sk.TimeWindows.of_size_and_grace(10, 5)) == [
        ("A@15", ("A", 0, 10, 1, 1)),
        ("A@15", ("B", 0, 10, 2, 9)),
        ("B@25", ("A", 10, 20, 2, 15)),
    ]


def test_hopping_windows_emit_once_when_closed() -> None:
    # (5,15), (10,20) and (15,25) close on records that also move them out of the store's
    # retention (size + grace behind the latest window start written): Kafka never emits them.
    assert _run(sk.TimeWindows.of_size_and_grace(10, 2).advance_by(5)) == [
        ("A@12", ("A", 0, 10, 1, 1)),
        ("A@12", ("B", 0, 10, 1, 3)),
        ("A@33", ("A", 20, 30, 1, 26)),
        ("A@33", ("B", 20, 30, 1, 25)),
    ]


def test_a_jump_in_stream_time_past_retention_loses_closed_windows_as_in_kafka() -> None:
    last = INPUT[-1]
    INPUT[-1] = ("A", 40)
    try:
        tumbling = _run(sk.TimeWindows.of_size_and_grace(10, 5))
        sliding = _run(sk.SlidingWindows.of_time_difference_and_grace(10, 3))
        session = _run(sk.SessionWindows.of_inactivity_gap_and_grace(5, 2), session=True)
    finally:
        INPUT[-1] = last
    assert [row for row in tumbling if row[0] == "A@40"] == []  # [20, 30) expired first
    assert [row for row in sliding if row[0] == "A@40"] == [
        ("A@40", ("A", 13, 23, 1, 15)),
        ("A@40", ("B", 15, 25, 1, 25)),
        ("A@40", ("A", 16, 26, 1, 26)),
    ]
    assert [row for row in session if row[0] == "A@40"] == [
        ("A@40", ("B", 25, 25, 1, 25)),
        ("A@40", ("A", 26, 26, 1, 26)),
    ]


def test_sliding_windows_emit_once_when_closed() -> None:
    assert _run(sk.SlidingWindows.of_time_difference_and_grace(10, 3)) == [
        ("A@15", ("A", 0, 10, 1, 1)),
        ("A@15", ("B", 0, 10, 2, 9)),
        ("B@25", ("A", 2, 12, 2, 12)),
        ("B@25", ("B", 4, 14, 1, 9)),
        ("B@25", ("A", 5, 15, 2, 15)),
        ("A@33", ("A", 13, 23, 1, 15)),
        ("A@33", ("B", 15, 25, 1, 25)),
        ("A@33", ("A", 16, 26, 1, 26)),
    ]


def test_session_windows_emit_once_when_closed() -> None:
    assert _run(sk.SessionWindows.of_inactivity_gap_and_grace(5, 2), session=True) == [
        ("A@12", ("A", 1, 1, 1, 1)),
        ("A@12", ("B", 3, 3, 1, 3)),
        ("B@25", ("B", 9, 9, 1, 9)),
        ("B@25", ("A", 12, 15, 2, 15)),
        ("A@33", ("B", 25, 25, 1, 25)),
    ]


def test_on_window_update_is_the_default_and_emits_every_change() -> None:
    builder = sk.StreamsBuilder()
    windowed = (
        builder.stream("in").group_by_key().windowed_by(sk.TimeWindows.of_size_with_no_grace(10))
    )
    assert windowed.emit.type == EmitStrategy.on_window_update().type
    assert windowed.emit_strategy(EmitStrategy.on_window_update()) is windowed


def test_emit_strategy_rejects_other_objects() -> None:
    builder = sk.StreamsBuilder()
    windowed = (
        builder.stream("in").group_by_key().windowed_by(sk.TimeWindows.of_size_with_no_grace(10))
    )
    with pytest.raises(TopologyError, match=r"EmitStrategy.on_window_close"):
        windowed.emit_strategy("close")
