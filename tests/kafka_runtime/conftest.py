"""One Tansu broker for the Kafka runtime tests (a separate process per test session)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/broker_tansu.py

from broker_tansu import TansuBroker


@pytest.fixture(scope="session")
def tansu_runtime() -> Iterator[str]:
    """`kafka://127.0.0.1:PORT` of a Tansu broker for worker subprocesses."""
    broker = TansuBroker()
    broker.start()
    try:
        yield f"kafka://{broker.bootstrap}"
    finally:
        broker.stop()
