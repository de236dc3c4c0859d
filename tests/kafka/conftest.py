"""The Kafka adapter tests run on the session's real Kafka broker (tests/broker_kafka.py).

Tests are plain functions that drive their scenario with `run(...)` (asyncio.run), so they
need no asyncio plugin; each scenario makes its own topics with unique names.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def kafka(kafka_bootstrap: str) -> str:
    """Bootstrap address ("127.0.0.1:PORT") of the session's Kafka broker."""
    return kafka_bootstrap
