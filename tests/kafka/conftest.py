"""Fixtures for the Kafka adapter tests: one Tansu broker per test session.

Tests are plain functions that drive their scenario with `run(...)` (asyncio.run), so they
need no asyncio plugin; each scenario makes its own topics with unique names.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/broker_tansu.py

from broker_tansu import TansuBroker


@pytest.fixture(scope="session")
def tansu_broker() -> Iterator[TansuBroker]:
    broker = TansuBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def tansu(tansu_broker: TansuBroker) -> str:
    """Bootstrap address ("127.0.0.1:PORT") of the session's Tansu broker."""
    return tansu_broker.bootstrap
