"""A stateful app for end-to-end tests: re-key, count per key, write every update.

Settings come from the environment so one file serves every scenario.
"""

import os

import streamz_kit as sk
from streamz_kit import serdes

builder = sk.StreamsBuilder()
events = builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
events.map_values(lambda v: {"seq": v["seq"], "user": v["user"]}).to("copies")
(
    events.group_by(lambda k, v: v["user"])
    .count(materialized=sk.Materialized("counts"))
    .to_stream()
    .to("counts", value_serde=serdes.LONG)
)

app = sk.App(
    builder.build(),
    application_id="e2e",
    broker=os.environ["E2E_BROKER"],
    processing_guarantee=os.environ.get("E2E_GUARANTEE", "at_least_once"),
    commit_interval_ms=int(os.environ.get("E2E_COMMIT_MS", "100")),
    cache_max_bytes=int(os.environ.get("E2E_CACHE_BYTES", str(10 * 1024 * 1024))),
)
