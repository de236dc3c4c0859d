"""Suite-wide options (`--runslow` or STREAMZ_RUNSLOW=1 runs the tests marked slow) and the
Kafka broker fixtures."""

from __future__ import annotations

import os

import pytest

# Real Apache Kafka for every test that needs a broker speaking the Kafka protocol: one broker
# JVM per session (tests/broker_kafka.py explains the fixtures).
from tests.broker_kafka import (  # noqa: F401
    kafka_bootstrap,
    kafka_broker,
    kafka_sasl_bootstrap,
    kafka_url,
    private_kafka,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="Also run the large tests marked slow (or set STREAMZ_RUNSLOW=1).",
    )


def runslow(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow")) or os.environ.get("STREAMZ_RUNSLOW") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if runslow(config):
        return
    skip = pytest.mark.skip(
        reason="opt-in run (large, or flaky on the test broker; see the test): pass --runslow or set STREAMZ_RUNSLOW=1"
    )
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
