"""The Kafka runtime tests run worker subprocesses against the session's real Kafka broker."""

from __future__ import annotations

import pytest


@pytest.fixture
def kafka_runtime(kafka_url: str) -> str:
    """`kafka://127.0.0.1:PORT` of the session's Kafka broker, for worker subprocesses."""
    return kafka_url
