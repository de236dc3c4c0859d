"""Shared helpers for the DSL tests: every test drives a real topology through the test driver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit.testing import TopologyTestDriver


@pytest.fixture
def builder() -> sk.StreamsBuilder:
    return sk.StreamsBuilder()


@pytest.fixture
def make_driver() -> Iterator[Any]:
    """`make_driver(builder_or_topology)` opens a driver that is closed at teardown."""
    drivers: list[TopologyTestDriver] = []

    def make(target: Any, **kwargs: Any) -> TopologyTestDriver:
        topology = target.build() if isinstance(target, sk.StreamsBuilder) else target
        driver = TopologyTestDriver(topology, **kwargs)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.close()
