"""A stateful app for the Kafka runtime tests, configured from the environment.

events (keyed k0..k9, value {"seq", "user"}) ─► copies (every record, unchanged)
                                             └► group_by(user) ─► aggregate {"n", "seqs"} ─► seqs

Under at_least_once a crash may reprocess records, so the checks are duplicate-proof:
`seqs` is a set union (idempotent) and must be exact; `n` counts updates and may only be
at least the true count.
"""

import os

import streamz_kit as sk
from streamz_kit import serdes

prefix = os.environ["KR_PREFIX"]


def add(user: str, event: dict, agg: dict) -> dict:
    seqs = set(agg["seqs"])
    seqs.add(event["seq"])
    return {"n": agg["n"] + 1, "seqs": sorted(seqs)}


builder = sk.StreamsBuilder()
events = builder.stream(f"{prefix}-events", key_serde=serdes.STRING, value_serde=serdes.JSON)
events.to(f"{prefix}-copies")
(
    events.group_by(lambda k, v: v["user"])
    .aggregate(lambda: {"n": 0, "seqs": []}, add, materialized=sk.Materialized("per-user"))
    .to_stream()
    .to(f"{prefix}-seqs")
)

client: dict[str, object] = {
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 500,
    "connect_timeout_s": float(os.environ.get("KR_CONNECT_TIMEOUT", "20")),
}
if os.environ.get("KR_REQUEST_TIMEOUT_MS"):
    client["request_timeout_ms"] = int(os.environ["KR_REQUEST_TIMEOUT_MS"])
if os.environ.get("KR_HTTP_PORT"):
    client["http_port"] = int(os.environ["KR_HTTP_PORT"])
if os.environ.get("KR_INSTANCE_ID"):
    client["group_instance_id"] = os.environ["KR_INSTANCE_ID"]
if os.environ.get("KR_PROTOCOL"):
    client["rebalance_protocol"] = os.environ["KR_PROTOCOL"]


app = sk.App(
    builder.build(),
    application_id=prefix,
    broker=os.environ["KR_BROKER"],
    processing_guarantee=os.environ.get("KR_GUARANTEE", "at_least_once"),
    state_dir=os.environ["KR_STATE_DIR"],
    commit_interval_ms=int(os.environ.get("KR_COMMIT_MS", "200")),
    num_standby_replicas=int(os.environ.get("KR_STANDBYS", "0")),
    **client,
)
