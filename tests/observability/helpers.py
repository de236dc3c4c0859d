"""Running an App in-process with its HTTP servers, and asking them things."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson

import streamz_kit as sk
from streamz_kit import serdes


def counts_topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .group_by(lambda k, v: v["user"])
        .count(materialized=sk.Materialized("counts"))
        .to_stream()
        .to("counts-out", value_serde=serdes.LONG)
    )
    return builder.build()


def _get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


async def get(url: str) -> tuple[int, bytes, str]:
    """GET from a server on this very event loop: the blocking client runs in a thread."""
    return await asyncio.to_thread(_get, url)


async def get_json(url: str) -> tuple[int, Any]:
    status, body, _ = await get(url)
    return status, orjson.loads(body)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_text = head.partition("{")
        if sample != name:
            continue
        found = dict(
            part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
        )
        found = {k: v.strip('"') for k, v in found.items()}
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


async def wait_until(predicate: Callable[[], Any], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
