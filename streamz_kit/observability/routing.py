"""Answering for keys another worker hosts (Kafka Streams' `queryMetadataForKey`).

The store's key is partitioned like its task's input (Kafka's murmur2 of the serialized key
over the sub-topology's task count), and the assignor tells every worker which HTTP endpoint
runs each partition index. A key this worker does not host is fetched from its host and
answered here, so a client can ask any worker.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from streamz_kit.transport.partitioner import default_partition

log = logging.getLogger("streamz_kit.http")


def host_for_key(app: Any, store: str, key: Any) -> str | None:
    """The endpoint of the worker hosting `key` of `store`, or None if it is this one (or
    nobody knows: one worker, the embedded broker, or no endpoints advertised)."""
    worker = getattr(app, "_worker", None)
    assignor = getattr(worker, "assignor", None)
    manager = getattr(worker, "tasks", None)
    if assignor is None or manager is None or not assignor.hosts:
        return None
    sub = next((s for s in app.topology.subtopologies if store in s.stores), None)
    if sub is None:
        return None
    width = manager.meta.task_partitions.get(sub.id, 1)
    builder = app.topology.store_builder(store)
    index = default_partition(builder.key_serde.serialize(store, key), width)
    host = assignor.hosts.get(index)
    if host is None or host == assignor.endpoint:
        return None
    return str(host)


def forward_path(store: str, key_text: str) -> str:
    """The path asked of the host; `local=1` stops it from forwarding again (no ping-pong
    while two workers briefly disagree about an assignment)."""
    return f"/stores/{quote(store, safe='')}/{quote(key_text, safe='')}?local=1"


async def fetch_remote(endpoint: str, path: str, timeout_s: float = 5.0) -> tuple[int, bytes]:
    """GET `path` from another worker; a failure is a 502 saying which worker and why."""
    url = urlsplit(endpoint if "//" in endpoint else f"http://{endpoint}")
    host, port = url.hostname or "127.0.0.1", url.port or 80
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Streamz-Forwarded: 1\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout_s)
        writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body
    except (TimeoutError, OSError, ValueError, IndexError) as exc:
        log.warning("Forwarding %s to %s failed: %s", path, endpoint, exc)
        return 502, orjson.dumps(
            {
                "error": "host unreachable",
                "message": f"The worker hosting this key ({endpoint}) did not answer ({exc}); "
                "try again, or ask that worker directly.",
            }
        )
