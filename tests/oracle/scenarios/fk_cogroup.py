"""Foreign-key table joins (KIP-213) and cogrouped aggregations (KIP-150)
(FkCogroupScenarios.java).

Null values reach the window aggregators (as in Kafka; a plain aggregation drops them), so
the aggregators add nothing for one. Session results are compared without headers, as for `session_aggregate`
(docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, flat, joined, longs, mat, table

TWO = {"left": "long", "right": "long"}
STR_OUT = {"out": "string"}
SIZE_GRACE = {"size": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}
SLIDE = {"diff": st.sampled_from([5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}
GAP = {"gap": st.sampled_from([3, 5, 20]), "grace": st.sampled_from([0, 5, 20])}


def fk(v: int) -> str | None:
    """The left row's foreign key: none for v % 4 == 0, else "a", "b" or "c" by v % 3."""
    return None if v % 4 == 0 else chr(ord("a") + v % 3)


def _fk(kind: str, materialized: bool) -> Any:
    def build(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
        left = table(b, "left", "lt")
        method = left.join if kind == "inner" else left.left_join
        method(
            table(b, "right", "rt"),
            joined,
            foreign_key=fk,
            materialized=mat("fkj", S) if materialized else None,
        ).to_stream().to("out", value_serde=S)

    return build


FK_STORES = {"lt": "kv", "rt": "kv", "fkj": "kv"}
scenario("fk_inner_join", inputs=TWO, outputs=STR_OUT, stores=FK_STORES)(_fk("inner", True))
scenario("fk_left_join", inputs=TWO, outputs=STR_OUT, stores=FK_STORES)(_fk("left", True))
scenario(
    "fk_inner_join_unmaterialized", inputs=TWO, outputs=STR_OUT, stores={"lt": "kv", "rt": "kv"}
)(_fk("inner", False))


def add(k: Any, v: int | None, agg: int) -> int:
    """Window aggregations hand a null value on (as Kafka): it adds nothing."""
    return agg + (v or 0)


def double_add(k: Any, v: int | None, agg: int) -> int:
    return agg * 2 + (v or 0)


def by_key(b: sk.StreamsBuilder, topic: str) -> Any:
    return longs(b, topic).group_by_key(key_serde=S, value_serde=L)


def cogrouped(b: sk.StreamsBuilder) -> Any:
    return by_key(b, "left").cogroup(add).cogroup(by_key(b, "right"), double_add)


def zero() -> int:
    return 0


@scenario("cogroup_aggregate", inputs=TWO, stores={"cg": "kv"})
def cogroup_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    cogrouped(b).aggregate(zero, materialized=mat("cg", L)).to_stream().to("out", value_serde=L)


@scenario("cogroup_rekeyed", inputs=TWO, stores={"cg": "kv"})
def cogroup_rekeyed(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").group_by(
        lambda k, v: None if v is None else chr(ord("a") + v % 3), key_serde=S, value_serde=L
    ).cogroup(add).cogroup(by_key(b, "right"), double_add).aggregate(
        zero, materialized=mat("cg", L)
    ).to_stream().to("out", value_serde=L)


@scenario("cogroup_tumbling", inputs=TWO, stores={"cgw": "window"}, params=SIZE_GRACE)
def cogroup_tumbling(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.TimeWindows.of_size_and_grace(p.get("size", 10), p.get("grace", 5))
    flat(
        cogrouped(b).windowed_by(windows).aggregate(zero, materialized=mat("cgw", L)).to_stream()
    ).to("out", value_serde=L)


@scenario("cogroup_sliding", inputs=TWO, stores={"cgsl": "window"}, params=SLIDE)
def cogroup_sliding(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.SlidingWindows.of_time_difference_and_grace(p.get("diff", 10), p.get("grace", 5))
    flat(
        cogrouped(b).windowed_by(windows).aggregate(zero, materialized=mat("cgsl", L)).to_stream()
    ).to("out", value_serde=L)


@scenario("cogroup_session", inputs=TWO, stores={"cgs": "session"}, params=GAP, headers=False)
def cogroup_session(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(p.get("gap", 5), p.get("grace", 5))
    flat(
        cogrouped(b)
        .windowed_by(windows)
        .aggregate(zero, lambda k, a1, a2: a1 + a2, materialized=mat("cgs", L))
        .to_stream()
    ).to("out", value_serde=L)
