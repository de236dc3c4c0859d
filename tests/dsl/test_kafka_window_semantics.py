"""Windowed aggregations and suppress, checked against Kafka Streams itself.

Every expected output below was produced by Kafka Streams 4.4's TopologyTestDriver (cache
off) running the same topology written in Java: `stream("in").filter(v != "D")
.groupByKey().windowedBy(...).aggregate(() -> "", (k, v, a) -> a + v[, (k, a1, a2) ->
"(" + a1 + "+" + a2 + ")"])`, optionally `.suppress(untilWindowCloses(unbounded()))`, then
`toStream().map((k, v) -> (k.key() + "@" + start + "/" + end, v))`. Java's string
concatenation writes a null value as "null", which the Python aggregator mirrors.
Each step is (key, value, timestamp) -> the records that input produced.
"""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver

S = serdes.STRING
Step = tuple[tuple[str | None, str | None, int], list[str]]


def _text(value: Any) -> str:
    return "null" if value is None else str(value)


def _run(windows: Any, steps: list[Step], *, suppress: bool = False) -> list[list[str]]:
    builder = sk.StreamsBuilder()
    grouped = (
        builder.stream("in", key_serde=S, value_serde=S)
        .filter(lambda k, v: v != "D")
        .group_by_key()
        .windowed_by(windows)
    )
    if isinstance(windows, sk.SessionWindows):
        table = grouped.aggregate(
            lambda: "",
            lambda k, v, agg: agg + _text(v),
            lambda k, a1, a2: f"({a1}+{a2})",
            materialized=sk.Materialized("store", key_serde=S, value_serde=S),
        )
    else:
        table = grouped.aggregate(
            lambda: "",
            lambda k, v, agg: agg + _text(v),
            materialized=sk.Materialized("store", key_serde=S, value_serde=S),
        )
    if suppress:
        table = table.suppress(sk.Suppressed.until_window_closes())
    table.to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}/{k.window.end}", v)).to(
        "out", key_serde=S, value_serde=S
    )
    got: list[list[str]] = []
    with TopologyTestDriver(builder.build(), config={"cache_max_bytes": 0}) as driver:
        inp = driver.create_input_topic("in", key_serde=S, value_serde=S)
        out = driver.create_output_topic("out", key_serde=S, value_serde=S)
        for (key, value, ts), _ in steps:
            inp.pipe_input(key, value, ts)
            got.append(
                [f"{r.key} {_text(r.value)} {r.timestamp_ms}" for r in out.read_records_to_list()]
            )
    return got


def _check(windows: Any, steps: list[Step], *, suppress: bool = False) -> None:
    assert _run(windows, steps, suppress=suppress) == [expected for _, expected in steps]


SESSION_5_2 = sk.SessionWindows.of_inactivity_gap_and_grace(5, 2)


# -- (c) observed stream time is per processor -----------------------------------------------


@pytest.mark.parametrize(
    ("windows", "late_update"),
    [
        (sk.TimeWindows.of_size_with_no_grace(10), ["a@0/10 xy 5"]),
        (sk.SessionWindows.of_inactivity_gap_with_no_grace(5), ["a@0/0 null 0", "a@0/5 (+x)y 5"]),
        (sk.SlidingWindows.of_time_difference_and_grace(10, 0), ["a@1/11 y 5", "a@0/10 xy 5"]),
    ],
    ids=["time", "session", "sliding"],
)
def test_a_record_removed_by_an_upstream_filter_does_not_make_later_records_late(
    windows: Any, late_update: list[str]
) -> None:
    first = {"time": "a@0/10 x 0", "session": "a@0/0 x 0", "sliding": "a@0/10 x 0"}
    kind = (
        "session"
        if isinstance(windows, sk.SessionWindows)
        else "sliding"
        if isinstance(windows, sk.SlidingWindows)
        else "time"
    )
    _check(
        windows,
        [(("a", "x", 0), [first[kind]]), (("a", "D", 100), []), (("a", "y", 5), late_update)],
    )


def test_suppress_observes_only_the_updates_that_reach_it() -> None:
    windows = sk.TimeWindows.of_size_with_no_grace(10)
    _check(
        windows,
        [(("a", "x", 1), []), (("a", "D", 30), []), (("b", "y", 31), ["a@0/10 x 1"])],
        suppress=True,
    )
    _check(
        sk.SessionWindows.of_inactivity_gap_and_grace(5, 2),
        [(("a", "x", 1), []), (("a", "D", 30), []), (("b", "y", 31), ["a@1/1 x 1"])],
        suppress=True,
    )


def test_sliding_suppress_sees_a_previous_records_right_window_created_late() -> None:
    """The window store expires by the latest window START written (Kafka's store-level
    observed time), not by the processor's stream time: [18,23] is still found at 27."""
    _check(
        sk.SlidingWindows.of_time_difference_and_grace(5, 1),
        [
            (("a", "z", 23), []),
            (("b", "z", 30), ["a@18/23 z 23"]),
            (("a", "y", 30), []),
            (("a", "x", 27), ["a@24/29 x 27"]),
        ],
        suppress=True,
    )


# -- (a) session windows -------------------------------------------------------------------


def test_a_record_bridging_sessions_merges_every_session_within_the_gap() -> None:
    _check(
        sk.SessionWindows.of_inactivity_gap_and_grace(5, 20),
        [
            (("a", "x", 0), ["a@0/0 x 0"]),
            (("a", "y", 10), ["a@10/10 y 10"]),
            (("a", "z", 5), ["a@0/0 null 0", "a@10/10 null 10", "a@0/10 ((+x)+y)z 10"]),
            (("a", "q", 30), ["a@30/30 q 30"]),
            (("a", "r", 20), ["a@20/20 r 20"]),
            (("a", "s", 25), ["a@20/20 null 20", "a@30/30 null 30", "a@20/30 ((+r)+q)s 30"]),
            # inside an existing session: the session is re-emitted as tombstone + update
            (("a", "t", 3), ["a@0/10 null 10", "a@0/10 (+((+x)+y)z)t 10"]),
        ],
    )


def test_a_session_past_the_stores_retention_is_not_merged() -> None:
    """Retention is gap + grace = 7 from the latest session end written (12): [0,0] is
    gone, so the record at 3 merges only with [6,6] although 0 is within its gap."""
    _check(
        SESSION_5_2,
        [
            (("a", "x", 0), ["a@0/0 x 0"]),
            (("a", "y", 6), ["a@6/6 y 6"]),
            (("a", "z", 12), ["a@12/12 z 12"]),
            (("a", "w", 3), ["a@6/6 null 6", "a@3/6 (+y)w 6"]),
            (("a", "v", 9), ["a@3/6 null 6", "a@12/12 null 12", "a@3/12 ((+(+y)w)+z)v 12"]),
        ],
    )


def test_session_late_boundary_is_end_before_observed_minus_gap_minus_grace() -> None:
    _check(
        SESSION_5_2,
        [
            (("a", "x", 20), ["a@20/20 x 20"]),
            (("a", "y", 13), ["a@13/13 y 13"]),  # close time 13: end 13 is not before it
            (("b", "z", 21), ["b@21/21 z 21"]),
            (("a", "q", 13), []),  # close time 14: merges into [13,13], still before it
            (("a", "r", 12), []),
        ],
    )


def test_null_values_reach_time_and_session_aggregators() -> None:
    """Only a null key is skipped by KStreamWindowAggregate and the session aggregate."""
    _check(
        SESSION_5_2,
        [
            (("a", None, 0), ["a@0/0 null 0"]),
            (("a", "x", 1), ["a@0/0 null 0", "a@0/1 (+null)x 1"]),
            ((None, "y", 2), []),
        ],
    )
    _check(
        sk.TimeWindows.of_size_with_no_grace(10),
        [
            (("a", None, 0), ["a@0/10 null 0"]),
            (("a", "x", 1), ["a@0/10 nullx 1"]),
            ((None, "y", 2), []),
        ],
    )


def test_session_gap_zero_is_allowed_and_its_zero_retention_finds_nothing() -> None:
    """Kafka accepts a zero gap; with no grace the store's retention is 0, so even an equal
    timestamp finds no session and the new one overwrites [0,0] without a tombstone."""
    _check(
        sk.SessionWindows.of_inactivity_gap_with_no_grace(0),
        [
            (("a", "x", 0), ["a@0/0 x 0"]),
            (("a", "y", 0), ["a@0/0 y 0"]),
            (("a", "z", 1), ["a@1/1 z 1"]),
        ],
    )


def test_sliding_windows_update_existing_windows_newest_first() -> None:
    _check(
        sk.SlidingWindows.of_time_difference_and_grace(5, 100),
        [
            (("a", "x", 10), ["a@5/10 x 10"]),
            (("a", "y", 12), ["a@11/16 y 12", "a@7/12 xy 12"]),
            (("a", "z", 15), ["a@11/16 yz 15", "a@13/18 z 15", "a@10/15 xyz 15"]),
            (
                ("a", "w", 11),
                [
                    "a@11/16 yzw 15",
                    "a@10/15 xyzw 15",
                    "a@7/12 xyw 12",
                    "a@6/11 xw 11",
                    "a@12/17 yz 15",
                ],
            ),
        ],
    )
