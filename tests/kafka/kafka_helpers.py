"""Helpers for the Kafka adapter tests (kept out of conftest so test modules can import them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout_s: float = 30.0) -> T:
    """Run a scenario with a hard time limit, so a hang fails the test instead of the run."""
    return asyncio.run(asyncio.wait_for(coro, timeout_s))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
