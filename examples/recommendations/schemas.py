"""Avro schemas of the example's topics, kept in a schema registry.

With a registry (the demo always uses one; `app.py` and `generator.py` when
SCHEMA_REGISTRY_URL is set), `user-actions` and `recommendations` carry Avro in Confluent's
wire format. On the embedded broker the schemas live in the broker's own `_schemas` topic
(`SchemaRegistry("embedded://PATH")` on the same log), so `streamz-kit registry --broker
embedded://PATH` serves them to other tools. Without a registry the topics are JSON (the
benchmark harness and the Kafka tests feed JSON).

Schema evolution: the generator starts with UserAction v1 and, part way through, adds an
optional `device` field (v2, default null: a BACKWARD-compatible step, so the registry
accepts it). The worker reads with v2, so v1 records written before the change read as
`device: None`, and nothing stops or restarts.
"""

from __future__ import annotations

import os
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes

ACTION_V1: dict[str, Any] = {
    "type": "record",
    "name": "UserAction",
    "namespace": "recommendations",
    "fields": [
        {"name": "user", "type": "string"},
        {"name": "item", "type": "string"},
        {"name": "category", "type": "string"},
        {"name": "kind", "type": "string"},
        {"name": "ts", "type": "long"},
    ],
}
# v2 adds one optional field; readers with v2 read v1 records (device = None).
ACTION_V2: dict[str, Any] = {
    **ACTION_V1,
    "fields": [
        *ACTION_V1["fields"],
        {"name": "device", "type": ["null", "string"], "default": None},
    ],
}
RECOMMENDATION: dict[str, Any] = {
    "type": "record",
    "name": "Recommendation",
    "namespace": "recommendations",
    "fields": [
        {"name": "user", "type": "string"},
        {
            "name": "items",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "ScoredItem",
                    "fields": [
                        {"name": "item", "type": "string"},
                        {"name": "category", "type": "string"},
                        {"name": "score", "type": "double"},
                    ],
                },
            },
        },
        {"name": "categories", "type": {"type": "array", "items": "string"}},
        {"name": "actions", "type": "long"},
        {"name": "as_of", "type": "long"},
    ],
}


def registry_for(broker: str) -> sk.SchemaRegistry:
    """The registry of `broker`: $SCHEMA_REGISTRY_URL when set (needed with Kafka), else the
    embedded one in the broker's own log."""
    url = os.environ.get("SCHEMA_REGISTRY_URL")
    if url:
        return sk.SchemaRegistry(url)
    if broker.startswith("embedded://"):
        return sk.SchemaRegistry(broker)
    raise ValueError(f"Set SCHEMA_REGISTRY_URL to use broker {broker!r} (no embedded registry).")


def registry_from_env() -> sk.SchemaRegistry | None:
    """$SCHEMA_REGISTRY_URL as a registry (`embedded://PATH` or `http://...`), or None."""
    url = os.environ.get("SCHEMA_REGISTRY_URL")
    return sk.SchemaRegistry(url) if url else None


def action_serde(registry: sk.SchemaRegistry, schema: dict[str, Any] = ACTION_V2) -> Any:
    return serdes.avro(schema, registry=registry)


def recommendation_serde(registry: sk.SchemaRegistry) -> Any:
    return serdes.avro(RECOMMENDATION, registry=registry)
