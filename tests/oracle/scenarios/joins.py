"""Stream-stream, stream-table, stream-global-table and table-table joins
(JoinScenarios.java). Values are longs; the joiner prints "left/right" with "null"."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, joined, longs, mat, table

TWO = {"left": "long", "right": "long"}
STR_OUT = {"out": "string"}
JOIN_WINDOW = {"diff": st.sampled_from([0, 5, 10, 30]), "grace": st.sampled_from([0, 5, 20])}


def windows(p: dict[str, Any]) -> sk.JoinWindows:
    return sk.JoinWindows.of_time_difference_and_grace(p.get("diff", 10), p.get("grace", 5))


def global_key(k: Any, v: Any) -> Any:
    """The record's own key for a null value or v % 3 == 0, else "a", "b" or "c" by v % 3."""
    return k if v is None or v % 3 == 0 else chr(ord("a") + v % 3)


def _ss(kind: str) -> Any:
    def build(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
        left = longs(b, "left")
        method = {"inner": left.join, "left": left.left_join, "outer": left.outer_join}[kind]
        method(longs(b, "right"), joined, windows=windows(p)).to("out", value_serde=S)

    return build


scenario("ss_inner_join", inputs=TWO, outputs=STR_OUT, params=JOIN_WINDOW)(_ss("inner"))
scenario("ss_left_join", inputs=TWO, outputs=STR_OUT, params=JOIN_WINDOW)(_ss("left"))
scenario("ss_outer_join", inputs=TWO, outputs=STR_OUT, params=JOIN_WINDOW)(_ss("outer"))


@scenario("stream_table_join", inputs=TWO, outputs=STR_OUT, stores={"rt": "kv"})
def stream_table_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").join(table(b, "right", "rt"), joined).to("out", value_serde=S)


@scenario("stream_table_left_join", inputs=TWO, outputs=STR_OUT, stores={"rt": "kv"})
def stream_table_left_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").left_join(table(b, "right", "rt"), joined).to("out", value_serde=S)


def _global(b: sk.StreamsBuilder) -> Any:
    return b.global_table("right", key_serde=S, value_serde=L, materialized=mat("g", L))


@scenario("stream_global_join", inputs=TWO, outputs=STR_OUT, stores={"g": "kv"})
def stream_global_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").join(_global(b), global_key, joined).to("out", value_serde=S)


@scenario("stream_global_left_join", inputs=TWO, outputs=STR_OUT, stores={"g": "kv"})
def stream_global_left_join(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").left_join(_global(b), global_key, joined).to("out", value_serde=S)


def _tt(kind: str) -> Any:
    def build(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
        left = table(b, "left", "lt")
        method = {"inner": left.join, "left": left.left_join, "outer": left.outer_join}[kind]
        method(table(b, "right", "rt"), joined, materialized=mat("j", S)).to_stream().to(
            "out", value_serde=S
        )

    return build


TT_STORES = {"lt": "kv", "rt": "kv", "j": "kv"}
scenario("tt_inner_join", inputs=TWO, outputs=STR_OUT, stores=TT_STORES)(_tt("inner"))
scenario("tt_left_join", inputs=TWO, outputs=STR_OUT, stores=TT_STORES)(_tt("left"))
scenario("tt_outer_join", inputs=TWO, outputs=STR_OUT, stores=TT_STORES)(_tt("outer"))


@scenario("left_join_after_select_key", inputs=TWO, outputs=STR_OUT, stores={"rt": "kv"})
def left_join_after_select_key(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "left").select_key(
        lambda k, v: None if v is None or v % 4 == 0 else chr(ord("a") + v % 3)
    ).left_join(table(b, "right", "rt"), joined).to("out", value_serde=S)
