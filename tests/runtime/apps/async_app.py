"""An app with an async call per record, for the crash tests of the async operators.

Each record appends `q<seq>` to ASYNC_CALL_LOG when the async node accepts it (queued), each
call `s<seq>` when it starts and `e<seq>` when it returns, so a test can tell that calls were
queued and in flight when the worker was killed.
"""

import asyncio
import os
import random

import streamz_kit as sk
from streamz_kit import serdes

CALL_LOG = os.open(os.environ["ASYNC_CALL_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def accepted(key: str, value: dict) -> None:
    os.write(CALL_LOG, b"q%d\n" % value["seq"])


async def enrich(key: str, value: dict) -> dict:
    os.write(CALL_LOG, b"s%d\n" % value["seq"])
    await asyncio.sleep(random.uniform(0.002, 0.02))
    os.write(CALL_LOG, b"e%d\n" % value["seq"])
    return {"seq": value["seq"], "key": key}


builder = sk.StreamsBuilder()
(
    builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
    .peek(accepted)
    .map_values_async(enrich, with_key=True, max_in_flight=16, timeout=5, retries=1)
    .to("enriched", value_serde=serdes.JSON)
)

app = sk.App(
    builder.build(),
    application_id="async-e2e",
    broker=os.environ["E2E_BROKER"],
    processing_guarantee=os.environ.get("E2E_GUARANTEE", "at_least_once"),
    commit_interval_ms=100,
)
