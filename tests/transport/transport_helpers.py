"""Helpers shared by the transport tests (imported by name: tests/transport is on sys.path)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from streamz_kit.transport import ConsumedRecord, Consumer, Transport

T = TypeVar("T")

_counter = itertools.count()


class Names:
    """Unique topic and group names for one test."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, what: str) -> str:
        return f"{self.prefix}-{what}-{next(_counter)}"


def run_with(transport: Transport, body: Callable[[Transport], Awaitable[T]]) -> T:
    """Start the transport, run `body`, close the transport: all in one event loop."""

    async def main() -> T:
        await transport.start()
        try:
            return await body(transport)
        finally:
            await transport.close()

    return asyncio.run(main())


async def poll_until(
    consumer: Consumer, count: int, timeout_s: float = 10.0
) -> list[ConsumedRecord]:
    """Poll until `count` records arrived (in arrival order) or the timeout passes."""
    out: list[ConsumedRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < count and time.monotonic() < deadline:
        for records in (await consumer.poll(100)).values():
            out.extend(records)
    return out
