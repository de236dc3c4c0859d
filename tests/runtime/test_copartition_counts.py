"""Partition counts of internal topics that are co-partitioned (Kafka's
CopartitionedTopicsEnforcer): a foreign-key join's internal topics follow the tables they
are joined with, not the sub-topology that writes them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import streamz_kit as sk
from streamz_kit.config import AppConfig
from streamz_kit.runtime.metadata import resolve_metadata


class FakeAdmin:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    async def partition_counts(self, topics: Iterable[str]) -> dict[str, int]:
        return {t: self.counts[t] for t in topics if t in self.counts}


def counts_for(topology: sk.Topology, inputs: dict[str, int]) -> dict[str, int]:
    config = AppConfig("app")
    meta = asyncio.run(resolve_metadata(topology, config, FakeAdmin(inputs)))  # type: ignore[arg-type]
    return {
        t.removeprefix("app-"): n
        for t, n in meta.partitions.items()
        if t.endswith(("-topic", "-repartition"))
    }


def test_subscription_topic_follows_the_right_table() -> None:
    builder = sk.StreamsBuilder()
    orders = builder.table("orders")
    products = builder.table("products")
    orders.join(products, lambda o, p: o, foreign_key=lambda o: o["p"]).to_stream().to("out")
    got = counts_for(builder.build(), {"orders": 6, "products": 2})
    assert got == {
        "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic": 2,
        "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic": 6,
    }


def test_response_topic_follows_a_repartitioned_left_table() -> None:
    """The left table comes out of a repartition (no input topic in its group): the response
    topic, written by the right side's 1-partition tasks, takes the left side's 4."""
    builder = sk.StreamsBuilder()
    per_item = builder.stream("actions").group_by(lambda k, v: v["item"]).count()
    catalogue = builder.table("catalogue")
    per_item.join(catalogue, lambda n, c: n, foreign_key=lambda n: "x").to_stream().to("out")
    got = counts_for(builder.build(), {"actions": 4, "catalogue": 1})
    response = next(t for t in got if "RESPONSE" in t)
    registration = next(t for t in got if "REGISTRATION" in t)
    repartition = next(t for t in got if t.endswith("-repartition"))
    assert (got[repartition], got[response], got[registration]) == (4, 4, 1)
