"""Windowed aggregations through the test driver: boundaries, grace, late records, sessions."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import TopologyError
from streamz_kit.serdes_windowed import session_windowed, time_windowed
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.windows import Window, Windowed


def _driver(
    build: Any, *, value_serde: Any = serdes.LONG, size: int | None = 10, session: bool = False
) -> tuple[TopologyTestDriver, Any, Any]:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
    build(stream.group_by_key()).to_stream().to("out", value_serde=value_serde)
    driver = TopologyTestDriver(builder.build())
    inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
    key_serde = (
        session_windowed(serdes.STRING) if session else time_windowed(serdes.STRING, size or 0)
    )
    out = driver.create_output_topic("out", key_serde=key_serde, value_serde=value_serde)
    return driver, inp, out


def _rows(out: Any) -> list[tuple[str, int, int, Any, int]]:
    return [
        (r.key.key, r.key.window.start, r.key.window.end, r.value, r.timestamp_ms)
        for r in out.read_records_to_list()
    ]


def _late(driver: TopologyTestDriver) -> int:
    return sum(task.skipped["late record"] for task in driver.tasks)


def test_tumbling_window_boundaries_are_half_open() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count())
    with driver:
        for ts in (0, 9, 10, 19, 20):
            inp.pipe_input("k", "v", ts)
        assert _rows(out) == [
            ("k", 0, 10, 1, 0),
            ("k", 0, 10, 2, 9),
            ("k", 10, 20, 1, 10),
            ("k", 10, 20, 2, 19),
            ("k", 20, 30, 1, 20),
        ]


def test_hopping_windows_each_record_lands_in_size_over_advance_windows() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10).advance_by(5)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count())
    with driver:
        inp.pipe_input("k", "v", 7)
        inp.pipe_input("k", "v", 12)
        inp.pipe_input("other", "v", 3)
        assert _rows(out) == [
            ("k", 0, 10, 1, 7),
            ("k", 5, 15, 1, 7),
            ("k", 5, 15, 2, 12),
            ("k", 10, 20, 1, 12),
            # ts 3 is late for [0,10)? no: stream time 12, no grace, [0,10) ended at 10
            # so the record is dropped for that window only.
        ]
        assert _late(driver) == 1


def test_grace_accepts_out_of_order_until_window_end_plus_grace() -> None:
    windows = sk.TimeWindows.of_size_and_grace(10, 5)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count())
    with driver:
        inp.pipe_input("k", "v", 14)  # stream time 14: [0,10) closes at 15
        inp.pipe_input("k", "v", 3)  # within grace
        inp.pipe_input("k", "v", 15)  # stream time 15: [0,10) is now closed
        inp.pipe_input("k", "v", 9)  # late: dropped
        assert _rows(out) == [
            ("k", 10, 20, 1, 14),
            ("k", 0, 10, 1, 3),
            ("k", 10, 20, 2, 15),
        ]
        assert _late(driver) == 1


def test_late_record_is_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    driver, inp, _out = _driver(lambda g: g.windowed_by(windows).count())
    with driver, caplog.at_level(logging.DEBUG, logger="streamz_kit.processor"):
        inp.pipe_input("k", "v", 30)
        inp.pipe_input("k", "v", 5)
        assert any("late record" in rec.getMessage() for rec in caplog.records)


def test_windowed_store_is_queryable_and_expires_with_retention() -> None:
    windows = sk.TimeWindows.of_size_and_grace(10, 5)
    driver, inp, _ = _driver(
        lambda g: g.windowed_by(windows).count(materialized=sk.Materialized("counts"))
    )
    with driver:
        inp.pipe_input("k", "v", 1)
        inp.pipe_input("k", "v", 2)
        store = driver.get_window_store("counts")
        assert store.fetch("k", 0) == 2
        assert store.fetch("k", 0, 100) == [(0, 2)]
        inp.pipe_input("k", "v", 40)  # retention 15: window [0,10) is gone
        assert store.fetch("k", 0) is None
        assert store.fetch_all(0, 100) == [(Windowed("k", Window(40, 50)), 1)]


def test_materialized_retention_extends_window_store_retention() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    driver, inp, _ = _driver(
        lambda g: g.windowed_by(windows).count(
            materialized=sk.Materialized("counts", retention=1000)
        )
    )
    with driver:
        inp.pipe_input("k", "v", 1)
        inp.pipe_input("k", "v", 500)
        assert driver.get_window_store("counts").fetch("k", 0) == 1


def test_windowed_reduce_and_aggregate() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    driver, inp, out = _driver(
        lambda g: g.windowed_by(windows).reduce(lambda agg, v: agg + v),
        value_serde=serdes.STRING,
    )
    with driver:
        for ts, v in ((1, "a"), (2, "b"), (11, "c")):
            inp.pipe_input("k", v, ts)
        assert [r[3] for r in _rows(out)] == ["a", "ab", "c"]
    driver, inp, out = _driver(
        lambda g: g.windowed_by(windows).aggregate(list, lambda k, v, agg: agg + [v]),
        value_serde=serdes.JSON,
    )
    with driver:
        for ts, v in ((1, "a"), (2, "b")):
            inp.pipe_input("k", v, ts)
        assert [r[3] for r in _rows(out)] == [["a"], ["a", "b"]]


def test_null_keys_are_dropped() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count())
    with driver:
        inp.pipe_input(None, "v", 1)
        assert out.is_empty()


def test_windowed_by_rejects_join_windows() -> None:
    builder = sk.StreamsBuilder()
    grouped = builder.stream("in").group_by_key()
    with pytest.raises(TopologyError, match="JoinWindows"):
        grouped.windowed_by(sk.JoinWindows.of_time_difference_without_grace(10))


def test_windowed_aggregation_after_key_change_repartitions() -> None:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
    (
        stream.select_key(lambda k, v: v)
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_with_no_grace(10))
        .count()
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    topology = builder.build()
    assert topology.repartition_topics
    with TopologyTestDriver(topology) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic(
            "out", key_serde=time_windowed(serdes.STRING, 10), value_serde=serdes.LONG
        )
        inp.pipe_input("a", "x", 1)
        inp.pipe_input("b", "x", 2)
        assert [(r.key.key, r.value) for r in out.read_records_to_list()] == [("x", 1), ("x", 2)]


# -- sliding windows (KIP-450) ----------------------------------------------------------------


def test_sliding_windows_create_left_and_right_windows() -> None:
    windows = sk.SlidingWindows.of_time_difference_and_grace(10, 0)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count())
    with driver:
        for ts in (1, 3, 12, 9, 30, 2):
            inp.pipe_input("a", "x", ts)
        assert _rows(out) == [
            ("a", 0, 10, 1, 1),  # early records share [0, diff]
            ("a", 2, 12, 1, 3),  # right window of record 1, holding record 3
            ("a", 0, 10, 2, 3),
            ("a", 2, 12, 2, 12),  # record 12's left window already exists
            ("a", 4, 14, 1, 12),  # right window of record 3
            ("a", 2, 12, 3, 12),  # record 9 updates the windows it falls in...
            ("a", 4, 14, 2, 12),
            ("a", 10, 20, 1, 12),  # ...creates its right window (holding 12)...
            # ...and cannot update [0,10]: it closed at stream time 12 (grace 0).
            ("a", 20, 30, 1, 30),
        ]
        assert _late(driver) == 2  # [0,10] for record 9, and record 2 entirely


def test_sliding_window_counts_match_brute_force() -> None:
    """Every emitted sliding window's final count equals the records in [start, end]."""
    windows = sk.SlidingWindows.of_time_difference_and_grace(5, 100)
    stamps = [20, 22, 31, 25, 26, 40, 38, 21, 33]
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count(), size=5)
    with driver:
        for ts in stamps:
            inp.pipe_input("a", "x", ts)
        final: dict[tuple[int, int], int] = {}
        for _, start, end, count, _ in _rows(out):
            final[(start, end)] = count
    for (start, end), count in final.items():
        assert count == sum(1 for t in stamps if start <= t <= end), (start, end)
    # every record's left window exists
    for t in stamps:
        assert (t - 5, t) in final


# -- session windows --------------------------------------------------------------------------


def test_sessions_merge_when_a_record_bridges_them() -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(5, 10)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count(), session=True)
    with driver:
        for ts in (1, 3, 12, 7):
            inp.pipe_input("a", "x", ts)
        assert _rows(out) == [
            ("a", 1, 1, 1, 1),
            ("a", 1, 1, None, 1),  # replaced by the extended session
            ("a", 1, 3, 2, 3),
            ("a", 12, 12, 1, 12),
            ("a", 1, 3, None, 3),  # record 7 bridges [1,3] and [12,12]
            ("a", 12, 12, None, 12),
            ("a", 1, 12, 4, 12),
        ]


def test_session_late_record_is_dropped() -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(5, 2)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count(), session=True)
    with driver:
        inp.pipe_input("a", "x", 20)
        inp.pipe_input("a", "x", 13)  # close time 20-2-5 = 13: end 13 is not before it
        inp.pipe_input("b", "x", 21)
        inp.pipe_input("a", "x", 13)  # close time 14: a new session [13,13] would be late...
        rows = _rows(out)
        # ...but it merges into [13,13] (end 13 < 14), so it is dropped too
        assert rows == [
            ("a", 20, 20, 1, 20),
            ("a", 13, 13, 1, 13),
            ("b", 21, 21, 1, 21),
        ]
        assert _late(driver) == 1


def test_closed_session_is_not_extended() -> None:
    """A record near a session that has closed (end + gap + grace passed) starts a new one."""
    windows = sk.SessionWindows.of_inactivity_gap_with_no_grace(5)
    driver, inp, out = _driver(lambda g: g.windowed_by(windows).count(), session=True)
    with driver:
        for ts in (1, 10, 6):
            inp.pipe_input("a", "x", ts)
        assert _rows(out)[-1] == ("a", 6, 10, 2, 10)


def test_session_aggregate_uses_merger_and_store_is_queryable() -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(5, 10)
    driver, inp, out = _driver(
        lambda g: g.windowed_by(windows).aggregate(
            str,
            lambda k, v, agg: agg + v,
            lambda k, a, b: a + "|" + b,
            materialized=sk.Materialized("sessions"),
        ),
        value_serde=serdes.STRING,
        session=True,
    )
    with driver:
        inp.pipe_input("a", "x", 1)
        inp.pipe_input("a", "y", 10)
        inp.pipe_input("a", "z", 6)
        assert _rows(out)[-1] == ("a", 1, 10, "|x|yz", 10)
        store = driver.get_session_store("sessions")
        assert store.fetch("a") == [(Window(1, 10), "|x|yz")]


def test_session_reduce() -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(5, 10)
    driver, inp, out = _driver(
        lambda g: g.windowed_by(windows).reduce(lambda a, b: a + b),
        value_serde=serdes.STRING,
        session=True,
    )
    with driver:
        inp.pipe_input("a", "x", 1)
        inp.pipe_input("a", "y", 10)
        inp.pipe_input("a", "z", 6)
        assert _rows(out)[-1] == ("a", 1, 10, "xyz", 10)
