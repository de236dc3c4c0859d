"""The crash suite's topology (tests/faults/apps/crash_app.py) on Kafka, several workers.

orders ─select_key(user)─► by-user repartition ─┬─► enriched        (one record per order)
                                                ├─► join profiles ─► joined (one per order)
                                                └─► user-totals     (aggregate: n, sum)
                                                      └─group_by(region)─► region-totals
Topic names and the application id carry KE_PREFIX, so tests share one broker; the rest of
the settings come from the environment too (one file for every scenario).
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

prefix = os.environ["KE_PREFIX"]
builder = sk.StreamsBuilder()
orders = builder.stream(f"{prefix}-orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
by_user = orders.select_key(lambda k, v: v["user"]).repartition(name="by-user")
by_user.map_values(enrich).to(f"{prefix}-enriched")
profiles = builder.table(
    f"{prefix}-profiles",
    key_serde=serdes.STRING,
    value_serde=serdes.JSON,
    materialized=sk.Materialized("profiles"),
)
by_user.join(profiles, join_profile).to(f"{prefix}-joined")
user_totals = by_user.group_by_key().aggregate(
    initializer=empty_totals,
    aggregator=add_order,
    materialized=sk.Materialized("user-totals"),
)
user_totals.to_stream().to(f"{prefix}-user-totals-out")
region_totals = user_totals.group_by(lambda user, agg: (region_of(user), agg)).aggregate(
    initializer=empty_totals,
    adder=plus_totals,
    subtractor=minus_totals,
    materialized=sk.Materialized("region-totals"),
)
region_totals.to_stream().to(f"{prefix}-region-totals-out")

client: dict[str, object] = {
    "session_timeout_ms": int(os.environ.get("KE_SESSION_MS", "3000")),
    "heartbeat_interval_ms": int(os.environ.get("KE_HEARTBEAT_MS", "300")),
    "connect_timeout_s": 30.0,
}
if os.environ.get("KE_INSTANCE_ID"):
    client["group_instance_id"] = os.environ["KE_INSTANCE_ID"]

app = sk.App(
    builder.build(),
    application_id=prefix,
    broker=os.environ["KE_BROKER"],
    processing_guarantee=os.environ.get("KE_GUARANTEE", "exactly_once"),
    state_dir=os.environ["KR_STATE_DIR"],
    commit_interval_ms=int(os.environ.get("KE_COMMIT_MS", "100")),
    num_standby_replicas=int(os.environ.get("KE_STANDBYS", "0")),
    **client,
)
