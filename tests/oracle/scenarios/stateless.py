"""Stateless chains (StatelessScenarios.java)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, longs

MOD = {"m": st.integers(2, 5)}


@scenario("filter_map_values", params=MOD)
def filter_map_values(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)
    longs(b, "in").filter(lambda k, v: v is not None and v % m != 0).map_values(
        lambda v: v * 2 + 1
    ).to("out", value_serde=L)


@scenario("map_select_key", params=MOD)
def map_select_key(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)
    longs(b, "in").map(
        lambda k, v: (
            f"{'nk' if k is None else k}-{'n' if v is None else v % m}",
            -1 if v is None else v + 1,
        )
    ).select_key(lambda k, v: k if v % 2 == 0 else None).to("out", value_serde=L)


@scenario("flat_map", params=MOD)
def flat_map(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)

    def explode(k: Any, v: Any) -> list[tuple[Any, Any]]:
        n = 0 if v is None else v % m
        return [(f"{'nk' if k is None else k}{i}", v * 10 + i) for i in range(n)]

    longs(b, "in").flat_map(explode).to("out", value_serde=L)


@scenario("flat_map_values")
def flat_map_values(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").flat_map_values(lambda v: [] if v is None else [v, v + 100]).to(
        "out", value_serde=L
    )


@scenario("split_merge", outputs={"out": "long", "out2": "long"})
def split_merge(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    branches = (
        longs(b, "in")
        .split(name="b-")
        .branch(lambda k, v: v is not None and v % 3 == 0, name="x")
        .branch(lambda k, v: v is not None and v % 3 == 1, name="y")
        .default_branch(name="z")
    )
    branches["b-x"].map_values(lambda v: v + 1000).merge(branches["b-y"]).to("out", value_serde=L)
    branches["b-z"].to("out2", value_serde=L)


@scenario("merge_topics", inputs={"in": "long", "in2": "long"})
def merge_topics(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").merge(longs(b, "in2").map_values(lambda v: None if v is None else v * 10)).to(
        "out", value_serde=L
    )


@scenario("filter_not_map_values_with_key")
def filter_not_map_values_with_key(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").filter_not(lambda k, v: k is None).map(
        lambda k, v: (k, len(k) * 100 + (0 if v is None else v))
    ).to("out", value_serde=L)


@scenario("repartition_select_key", params=MOD)
def repartition_select_key(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)
    longs(b, "in").select_key(
        lambda k, v: None if v is None or v % 4 == 0 else f"r{v % m}"
    ).repartition(name="rp", key_serde=S, value_serde=L).map_values(
        lambda v: 0 if v is None else v + 1
    ).to("out", value_serde=L)
