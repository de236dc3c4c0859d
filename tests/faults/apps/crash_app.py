"""The crash suite's topology: repartition, two chained aggregations, one output per input.

orders ─select_key(user)─► by-user repartition ─┬─► enriched        (one record per order)
                                                ├─► join profiles ─► joined (one per order)
                                                └─► user-totals     (aggregate: n, sum)
                                                      └─group_by(region)─► region-totals
                                                          (repartition + table aggregate)
profiles (a table, keyed by user, loaded before any order) is co-partitioned with by-user.
Settings come from the environment so one file serves every scenario.
"""

import os

import streamz_kit as sk
from streamz_kit import serdes
from tests.faults.model import (
    add_order,
    empty_totals,
    enrich,
    join_profile,
    minus_totals,
    plus_totals,
    region_of,
)

builder = sk.StreamsBuilder()
orders = builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
by_user = orders.select_key(lambda k, v: v["user"]).repartition(name="by-user")
by_user.map_values(enrich).to("enriched")
profiles = builder.table(
    "profiles",
    key_serde=serdes.STRING,
    value_serde=serdes.JSON,
    materialized=sk.Materialized("profiles"),
)
by_user.join(profiles, join_profile).to("joined")
user_totals = by_user.group_by_key().aggregate(
    initializer=empty_totals,
    aggregator=add_order,
    materialized=sk.Materialized("user-totals"),
)
user_totals.to_stream().to("user-totals-out")
region_totals = user_totals.group_by(lambda user, agg: (region_of(user), agg)).aggregate(
    initializer=empty_totals,
    adder=plus_totals,
    subtractor=minus_totals,
    materialized=sk.Materialized("region-totals"),
)
region_totals.to_stream().to("region-totals-out")

app = sk.App(
    builder.build(),
    application_id="crash",
    broker=os.environ["CRASH_BROKER"],
    processing_guarantee=os.environ.get("CRASH_GUARANTEE", "exactly_once"),
    commit_interval_ms=int(os.environ.get("CRASH_COMMIT_MS", "50")),
)
