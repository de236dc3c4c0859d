"""Issue 14's reported semantics (SemanticsScenarios.java): session merges, observed stream
time per processor (a filter upstream of windows, suppress and stream-stream joins) and
null keys around repartitions and outer joins (KIP-962). Odd values are filtered out, so
they move the task's stream time without reaching the windowed or joining processor."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, flat, joined, longs, mat
from tests.oracle.scenarios.windows import concat, nsum

TWO = {"left": "long", "right": "long"}
STR_OUT = {"out": "string"}
GAP = {"gap": st.sampled_from([0, 3, 5, 20]), "grace": st.sampled_from([0, 2, 20])}
JOIN = {"diff": st.sampled_from([0, 5, 10]), "grace": st.sampled_from([0, 5])}


def evens(stream: sk.KStream) -> sk.KStream:
    return stream.filter(lambda k, v: v is None or v % 2 == 0)


def sessions(p: dict[str, Any]) -> sk.SessionWindows:
    return sk.SessionWindows.of_inactivity_gap_and_grace(p.get("gap", 5), p.get("grace", 5))


def join_windows(p: dict[str, Any]) -> sk.JoinWindows:
    return sk.JoinWindows.of_time_difference_and_grace(p.get("diff", 5), p.get("grace", 0))


def rekey(k: Any, v: Any) -> Any:
    return None if v is None or v % 4 == 0 else k


@scenario(
    "filter_session_merge", outputs=STR_OUT, headers=False, stores={"smerge": "session"}, params=GAP
)
def filter_session_merge(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        evens(longs(b, "in"))
        .group_by_key()
        .windowed_by(sessions(p))
        .aggregate(
            lambda: "", concat, lambda k, a1, a2: f"({a1}|{a2})", materialized=mat("smerge", S)
        )
        .to_stream()
    ).to("out", value_serde=S)


@scenario(
    "filter_sliding_count",
    stores={"fslcounts": "window"},
    params={"diff": st.sampled_from([1, 5, 10]), "grace": st.sampled_from([0, 3, 20])},
)
def filter_sliding_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        evens(longs(b, "in"))
        .group_by_key()
        .windowed_by(
            sk.SlidingWindows.of_time_difference_and_grace(p.get("diff", 5), p.get("grace", 0))
        )
        .count(materialized=mat("fslcounts", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario(
    "filter_hopping_suppress",
    headers=False,
    stores={"fhcounts": "window"},
    params={
        "size": st.sampled_from([5, 10]),
        "grace": st.sampled_from([0, 3]),
        "advance": st.sampled_from([2, 5]),
    },
)
def filter_hopping_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.TimeWindows.of_size_and_grace(p.get("size", 10), p.get("grace", 0)).advance_by(
        min(p.get("advance", 5), p.get("size", 10))
    )
    flat(
        evens(longs(b, "in"))
        .group_by_key()
        .windowed_by(windows)
        .count(materialized=mat("fhcounts", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("filter_session_suppress", headers=False, stores={"fssums": "session"}, params=GAP)
def filter_session_suppress(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        evens(longs(b, "in"))
        .group_by_key()
        .windowed_by(sessions(p))
        .reduce(nsum, materialized=mat("fssums", L))
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
    ).to("out", value_serde=L)


@scenario("filter_ss_left_join", inputs=TWO, outputs=STR_OUT, params=JOIN)
def filter_ss_left_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    evens(longs(b, "left")).left_join(evens(longs(b, "right")), joined, windows=join_windows(p)).to(
        "out", value_serde=S
    )


@scenario("filter_ss_outer_join", inputs=TWO, outputs=STR_OUT, params=JOIN)
def filter_ss_outer_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    evens(longs(b, "left")).outer_join(longs(b, "right"), joined, windows=join_windows(p)).to(
        "out", value_serde=S
    )


@scenario("rekey_ss_left_join", inputs=TWO, outputs=STR_OUT, params=JOIN)
def rekey_ss_left_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").select_key(rekey).left_join(
        longs(b, "right"), joined, windows=join_windows(p)
    ).to("out", value_serde=S)


@scenario("rekey_ss_outer_join", inputs=TWO, outputs=STR_OUT, params=JOIN)
def rekey_ss_outer_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").select_key(rekey).outer_join(
        longs(b, "right").select_key(rekey), joined, windows=join_windows(p)
    ).to("out", value_serde=S)


@scenario("rekey_count", stores={"rcounts": "kv"})
def rekey_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").select_key(rekey).group_by_key().count(
        materialized=mat("rcounts", L)
    ).to_stream().to("out", value_serde=L)
