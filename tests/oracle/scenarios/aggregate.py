"""group_by / aggregate / reduce / count on streams, and tables with adder and subtractor
(AggregateScenarios.java)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, longs, mat, table

MOD = {"m": st.integers(2, 5)}
MOD2 = {"m": st.integers(2, 4)}


@scenario("count", stores={"counts": "kv"})
def count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").group_by_key().count(materialized=mat("counts", L)).to_stream().to(
        "out", value_serde=L
    )


@scenario("reduce_sum", stores={"sums": "kv"})
def reduce_sum(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").group_by_key().reduce(
        lambda agg, v: agg + v, materialized=mat("sums", L)
    ).to_stream().to("out", value_serde=L)


@scenario("aggregate_concat", outputs={"out": "string"}, stores={"aggs": "kv"})
def aggregate_concat(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").group_by_key().aggregate(
        lambda: "", lambda k, v, agg: f"{agg}{v};", materialized=mat("aggs", S)
    ).to_stream().to("out", value_serde=S)


@scenario("group_by_count", stores={"counts": "kv"}, params=MOD)
def group_by_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)
    longs(b, "in").group_by(
        lambda k, v: k if v is None else f"g{v % m}", key_serde=S, value_serde=L
    ).count(materialized=mat("counts", L)).to_stream().to("out", value_serde=L)


@scenario("select_key_null_count", stores={"counts": "kv"}, params=MOD)
def select_key_null_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 3)
    longs(b, "in").select_key(
        lambda k, v: None if v is None or v % 4 == 0 else f"r{v % m}"
    ).group_by_key().count(materialized=mat("counts", L)).to_stream().to("out", value_serde=L)


@scenario("table_source", stores={"t": "kv"})
def table_source(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    table(b, "in", "t").to_stream().to("out", value_serde=L)


@scenario("stream_to_table", stores={"t": "kv"})
def stream_to_table(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").to_table(materialized=mat("t", L)).to_stream().to("out", value_serde=L)


@scenario("table_filter_map_values", stores={"t": "kv"}, params=MOD2)
def table_filter_map_values(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 2)
    table(b, "in", "t").filter(lambda k, v: v % m == 0).map_values(lambda v: v * 10).to_stream().to(
        "out", value_serde=L
    )


@scenario("table_unnamed_filter", params=MOD2)
def table_unnamed_filter(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    """A table without a store name: Kafka's filter cannot get old values from it, so a
    rejected record always forwards a tombstone."""
    m = p.get("m", 2)
    b.table("in", key_serde=S, value_serde=L).filter(lambda k, v: v % m == 0).to_stream().to(
        "out", value_serde=L
    )


@scenario("table_filter_materialized", stores={"t": "kv", "f": "kv"}, params=MOD2)
def table_filter_materialized(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    m = p.get("m", 2)
    table(b, "in", "t").filter(lambda k, v: v % m == 0, materialized=mat("f", L)).to_stream().to(
        "out", value_serde=L
    )


def _regroup(m: int) -> Any:
    return lambda k, v: (f"g{v % m}", v)


@scenario(
    "table_group_by_aggregate_cached",
    outputs={"out": "string"},
    stores={"t": "kv", "aggs": "kv"},
    params=MOD,
    cache_bytes=10 << 20,
)
def table_group_by_aggregate_cached(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    """With the record cache on: the subtractor's and the adder's updates of one group made
    by one input record leave as one output."""
    table_group_by_aggregate(b, p)


@scenario("json_aggregate", outputs={"out": "json"}, stores={"jaggs": "kv"})
def json_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    longs(b, "in").group_by_key().aggregate(
        lambda: {"n": 0, "sum": 0},
        lambda k, v, agg: {"n": agg["n"] + 1, "sum": agg["sum"] + v},
        materialized=mat("jaggs", serdes.JSON),
    ).to_stream().to("out", value_serde=serdes.JSON)


@scenario("table_group_by_count", stores={"t": "kv", "counts": "kv"}, params=MOD)
def table_group_by_count(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    table(b, "in", "t").group_by(_regroup(p.get("m", 3)), key_serde=S, value_serde=L).count(
        materialized=mat("counts", L)
    ).to_stream().to("out", value_serde=L)


@scenario("table_group_by_reduce", stores={"t": "kv", "sums": "kv"}, params=MOD)
def table_group_by_reduce(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    table(b, "in", "t").group_by(_regroup(p.get("m", 3)), key_serde=S, value_serde=L).reduce(
        lambda agg, v: agg + v, lambda agg, v: agg - v, materialized=mat("sums", L)
    ).to_stream().to("out", value_serde=L)


@scenario(
    "table_group_by_aggregate",
    outputs={"out": "string"},
    stores={"t": "kv", "aggs": "kv"},
    params=MOD,
)
def table_group_by_aggregate(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
    table(b, "in", "t").group_by(_regroup(p.get("m", 3)), key_serde=S, value_serde=L).aggregate(
        lambda: "",
        lambda k, v, agg: f"{agg}+{v}",
        lambda k, v, agg: f"{agg}-{v}",
        materialized=mat("aggs", S),
    ).to_stream().to("out", value_serde=S)
