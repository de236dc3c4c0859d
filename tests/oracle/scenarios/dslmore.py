"""Emit-on-window-close, versioned tables, suppress until a time limit, to_stream(key_mapper)
(DslMoreScenarios.java). The Java side runs with `__emit.interval.ms.kstreams__ = 0`: we
check for closed windows on every record (docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import EmitStrategy
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, flat, joined, longs, mat

SIZE_GRACE = {"size": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}
HOP = {**SIZE_GRACE, "advance": st.sampled_from([2, 3, 5])}
HISTORY = {"history": st.sampled_from([20, 50, 1000])}
CLOSE = EmitStrategy.on_window_close()


def tumbling(p: dict[str, Any]) -> sk.TimeWindows:
    return sk.TimeWindows.of_size_and_grace(p.get("size", 10), p.get("grace", 5))


def versioned(b: sk.StreamsBuilder, topic: str, p: dict[str, Any]) -> sk.KTable:
    return b.table(
        topic,
        key_serde=S,
        value_serde=L,
        materialized=sk.Materialized(
            "vt",
            store="versioned",
            history_retention=p.get("history", 50),
            key_serde=S,
            value_serde=L,
        ),
    )


def present(s: sk.KStream) -> sk.KStream:
    return s.filter(lambda k, v: k is not None and v is not None)


def concat(k: Any, v: Any, agg: str) -> str:
    return f"{agg}{'null' if v is None else v};"


@scenario("emit_close_tumbling", stores={"wcounts": "window"}, params=SIZE_GRACE)
def emit_close_tumbling(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(tumbling(p))
        .emit_strategy(CLOSE)
        .count(materialized=mat("wcounts", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario("emit_close_hopping", outputs={"out": "string"}, stores={"waggs": "window"}, params=HOP)
def emit_close_hopping(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = tumbling(p).advance_by(min(p.get("advance", 5), p.get("size", 10)))
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(windows)
        .emit_strategy(CLOSE)
        .aggregate(lambda: "", concat, materialized=mat("waggs", S))
        .to_stream()
    ).to("out", value_serde=S)


@scenario(
    "emit_close_sliding",
    outputs={"out": "string"},
    stores={"slaggs": "window"},
    params={"diff": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])},
)
def emit_close_sliding(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.SlidingWindows.of_time_difference_and_grace(p.get("diff", 10), p.get("grace", 5))
    flat(
        present(longs(b, "in"))
        .group_by_key()
        .windowed_by(windows)
        .emit_strategy(CLOSE)
        .aggregate(lambda: "", concat, materialized=mat("slaggs", S))
        .to_stream()
    ).to("out", value_serde=S)


@scenario(
    "emit_close_session",
    headers=False,
    stores={"scounts": "session"},
    params={"gap": st.sampled_from([3, 5, 20]), "grace": st.sampled_from([0, 5, 20])},
)
def emit_close_session(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(p.get("gap", 5), p.get("grace", 5))
    flat(
        longs(b, "in")
        .group_by_key()
        .windowed_by(windows)
        .emit_strategy(CLOSE)
        .count(materialized=mat("scounts", L))
        .to_stream()
    ).to("out", value_serde=L)


@scenario("versioned_table_source", outputs={"out": "long", "even": "long"}, params=HISTORY)
def versioned_table_source(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    t = versioned(b, "in", p)
    t.to_stream().to("out", value_serde=L)
    t.filter(lambda k, v: v % 2 == 0).to_stream().to("even", value_serde=L)


@scenario(
    "versioned_stream_join",
    inputs={"s": "long", "t": "long"},
    outputs={"out": "string"},
    params={**HISTORY, "grace": st.sampled_from([0, 0, 5, 20]), "left": st.booleans()},
)
def versioned_stream_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    t = versioned(b, "t", p)
    s = present(longs(b, "s"))
    grace = p.get("grace", 0) or None
    if grace is not None and grace > p.get("history", 50):
        grace = p.get("history", 50)
    join = s.left_join if p.get("left", False) else s.join
    join(t, joined, grace=grace).to("out", value_serde=S)


@scenario(
    "versioned_table_table_join",
    inputs={"l": "long", "r": "long"},
    outputs={"out": "string"},
    params=HISTORY,
)
def versioned_table_table_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    left = versioned(b, "l", p)
    right = b.table("r", key_serde=S, value_serde=L, materialized=mat("rt", L))
    left.join(right, joined).to_stream().to("out", value_serde=S)


@scenario(
    "suppress_time_limit",
    stores={"counts": "kv"},
    params={"limit": st.sampled_from([0, 5, 30]), "max": st.sampled_from([0, 0, 1, 2])},
)
def suppress_time_limit(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    limit = sk.Suppressed.until_time_limit(p.get("limit", 10), max_records=p.get("max") or None)
    longs(b, "in").group_by_key().count(materialized=mat("counts", L)).suppress(
        limit
    ).to_stream().to("out", value_serde=L)


@scenario("to_stream_key_mapper")
def to_stream_key_mapper(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    b.table("in", key_serde=S, value_serde=L, materialized=mat("t", L)).to_stream(
        lambda k, v: f"{k}-{'gone' if v is None else v % 3}"
    ).to("out", value_serde=L)
