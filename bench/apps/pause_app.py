"""The rebalance-pause benchmark's app: a count per key, and one output per input record
saying which worker processed it and when (wall clock), so the benchmark can see, per input
partition, when processing stopped and which partitions moved."""

import os
import time

import streamz_kit as sk
from streamz_kit import serdes

prefix = os.environ["RP_PREFIX"]
pid = os.getpid()


def stamp(value: dict) -> dict:
    return {"p": value["p"], "seq": value["seq"], "w": pid, "at": time.time()}


builder = sk.StreamsBuilder()
ticks = builder.stream(f"{prefix}-ticks", key_serde=serdes.STRING, value_serde=serdes.JSON)
ticks.map_values(stamp).to(f"{prefix}-stamps")
ticks.group_by_key().count(materialized=sk.Materialized("counts")).to_stream().to(
    f"{prefix}-counts", value_serde=serdes.LONG
)

app = sk.App(
    builder.build(),
    application_id=prefix,
    broker=os.environ["RP_BROKER"],
    processing_guarantee=os.environ.get("RP_GUARANTEE", "at_least_once"),
    state_dir=os.environ["RP_STATE_DIR"],
    commit_interval_ms=int(os.environ.get("RP_COMMIT_MS", "200")),
    session_timeout_ms=10_000,
    heartbeat_interval_ms=500,
    rebalance_protocol=os.environ.get("RP_PROTOCOL", "eager"),
)
