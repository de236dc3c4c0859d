"""Helpers both sides spell the same way (see Scenarios.java)."""

from __future__ import annotations

from typing import Any

import streamz_kit as sk
from streamz_kit import serdes

S = serdes.STRING
L = serdes.LONG


def longs(b: sk.StreamsBuilder, topic: str) -> sk.KStream:
    return b.stream(topic, key_serde=S, value_serde=L)


def table(b: sk.StreamsBuilder, topic: str, store: str) -> sk.KTable:
    return b.table(
        topic,
        key_serde=S,
        value_serde=L,
        materialized=sk.Materialized(store, key_serde=S, value_serde=L),
    )


def mat(name: str, value_serde: Any) -> sk.Materialized:
    return sk.Materialized(name, key_serde=S, value_serde=value_serde)


def flat(stream: sk.KStream) -> sk.KStream:
    """A windowed key as the string both sides print: key@start/end."""
    return stream.map(lambda wk, v: (f"{wk.key}@{wk.window.start}/{wk.window.end}", v))


def jstr(x: Any) -> str:
    """Java's string conversion of a Long or null."""
    return "null" if x is None else str(x)


def joined(left: Any, right: Any) -> str:
    return f"{jstr(left)}/{jstr(right)}"
