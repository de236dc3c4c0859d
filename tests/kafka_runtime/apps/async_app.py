"""An async-call app for the Kafka runtime tests, configured from the environment.

{prefix}-events (keyed k0..k9, value {"seq", "user"}) ─► map_values_async ─► {prefix}-enriched
Each call appends `s<seq>` / `e<seq>` to ASYNC_CALL_LOG when it starts / returns.
"""

import asyncio
import os
import random

import streamz_kit as sk
from streamz_kit import serdes

prefix = os.environ["KR_PREFIX"]
CALL_LOG = os.open(os.environ["ASYNC_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


async def enrich(key: str, value: dict) -> dict:
    os.write(CALL_LOG, b"s%d\n" % value["seq"])
    await asyncio.sleep(random.uniform(0.002, 0.02))
    os.write(CALL_LOG, b"e%d\n" % value["seq"])
    return {"seq": value["seq"], "key": key}


builder = sk.StreamsBuilder()
(
    builder.stream(f"{prefix}-events", key_serde=serdes.STRING, value_serde=serdes.JSON)
    .map_values_async(enrich, with_key=True, max_in_flight=16, timeout=5, retries=1)
    .to(f"{prefix}-enriched", value_serde=serdes.JSON)
)

app = sk.App(
    builder.build(),
    application_id=prefix,
    broker=os.environ["KR_BROKER"],
    processing_guarantee=os.environ.get("KR_GUARANTEE", "exactly_once"),
    state_dir=os.environ["KR_STATE_DIR"],
    commit_interval_ms=100,
    session_timeout_ms=6000,
    heartbeat_interval_ms=500,
)
