"""Fixtures for the transport contract suite: one `transport` fixture per adapter.

To run the contract suite against another adapter, add a factory to ADAPTERS: it receives
the pytest request and a fresh temporary directory and returns an (unstarted) Transport.
Tests start and close it inside their own `asyncio.run`, because a Kafka client belongs to
the event loop it was started in. Topic and group names come from `names`, unique per test,
so adapters may share one broker for the whole session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from transport_helpers import Names

from streamz_kit.transport import Transport, connect

AdapterFactory = Callable[[pytest.FixtureRequest, Path], Transport]


def _embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Transport:
    return connect(f"embedded://{tmp_path / 'broker'}")


ADAPTERS: dict[str, AdapterFactory] = {
    "embedded": _embedded,
}


@pytest.fixture(params=sorted(ADAPTERS))
def transport(request: pytest.FixtureRequest, tmp_path: Path) -> Transport:
    return ADAPTERS[request.param](request, tmp_path)


@pytest.fixture
def names(request: pytest.FixtureRequest) -> Names:
    return Names(request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40])
