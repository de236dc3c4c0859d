"""Every window type with grace, and suppress (WindowScenarios.java)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, flat, longs, mat

SIZE_GRACE = {"size": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}
HOP = {**SIZE_GRACE, "advance": st.sampled_from([2, 3, 5])}
SLIDE = {"diff": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}
GAP = {"gap": st.sampled_from([3, 5, 20]), "grace": st.sampled_from([0, 5, 20])}


def tumbling(p: dict[str, Any]) -> sk.TimeWindows:
    return sk.TimeWindows.of_size_and_grace(p.get("size", 10), p.get("grace", 5))


def hopping(p: dict[str, Any]) -> sk.TimeWindows:
    return tumbling(p).advance_by(min(p.get("advance", 5), p.get("size", 10)))


def sliding(p: dict[str, Any]) -> sk.SlidingWindows:
    return sk.SlidingWindows.of_time_difference_and_grace(p.get("diff", 10), p.get("grace", 5))


def sessions(p: dict[str, Any]) -> sk.SessionWindows:
    return sk.SessionWindows.of_inactivity_gap_and_grace(p.get("gap", 5), p.get("grace", 5))


def nsum(agg: Any, v: Any) -> int:
    """A reducer that treats null as 0 (windowed aggregations pass null values on)."""
    return (agg or 0) + (v or 0)


def concat(k: Any, v: Any, agg: str) -> str:
    """Java's `agg + v + ";"`: a null value (windowed aggregations pass them on) is "null"."""
    return f"{agg}{'null' if v is None else v};"


@scenario("tumbling_count", stores={"wcounts": "window"}, params=SIZE_GRACE)
def tumbling_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(tumbling(p))
        .count(materialized=mat("wcounts", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario(
    "tumbling_reduce_no_grace",
    stores={"wsums": "window"},
    params={"size": st.sampled_from([5, 10, 30])},
)
def tumbling_reduce_no_grace(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_with_no_grace(p.get("size", 10)))
        .reduce(nsum, materialized=mat("wsums", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario("hopping_aggregate", outputs={"out": "string"}, stores={"waggs": "window"}, params=HOP)
def hopping_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(hopping(p))
        .aggregate(lambda: "", concat, materialized=mat("waggs", S))
        .to_stream()
    ).to("out", value_serde=S)


@scenario("sliding_aggregate", outputs={"out": "string"}, stores={"slaggs": "window"}, params=SLIDE)
def sliding_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sliding(p))
        .aggregate(lambda: "", concat, materialized=mat("slaggs", S))
        .to_stream()
    ).to("out", value_serde=S)


@scenario("session_count", headers=False, stores={"scounts": "session"}, params=GAP)
def session_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sessions(p))
        .count(materialized=mat("scounts", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario(
    "session_aggregate",
    headers=False,
    outputs={"out": "string"},
    stores={"saggs": "session"},
    params=GAP,
)
def session_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sessions(p))
        .aggregate(lambda: "", concat, lambda k, a1, a2: f"{a1}|{a2}", materialized=mat("saggs", S))
        .to_stream()
    ).to("out", value_serde=S)


@scenario("tumbling_suppress", headers=False, stores={"wcounts": "window"}, params=SIZE_GRACE)
def tumbling_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(tumbling(p))
        .count(materialized=mat("wcounts", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("hopping_suppress", headers=False, stores={"wsums": "window"}, params=HOP)
def hopping_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(hopping(p))
        .reduce(nsum, materialized=mat("wsums", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("sliding_suppress", headers=False, stores={"slcounts": "window"}, params=SLIDE)
def sliding_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sliding(p))
        .count(materialized=mat("slcounts", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("session_suppress", headers=False, stores={"scounts": "session"}, params=GAP)
def session_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(sessions(p))
        .count(materialized=mat("scounts", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("filter_tumbling_count", stores={"wcounts": "window"}, params=SIZE_GRACE)
def filter_tumbling_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .filter(lambda k, v: v is not None and v % 2 == 0)
        .group_by_key()
        .windowed_by(tumbling(p))
        .count(materialized=mat("wcounts", L))
        .to_stream()
    ).to("out", value_serde=L)
