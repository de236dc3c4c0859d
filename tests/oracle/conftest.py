"""The oracle JVM, one per test session (started on first use), and the example budget.

ORACLE_EXAMPLES sets Hypothesis' examples per scenario (default 25: the seeded CI budget);
ORACLE_SEED picks another seeded run; ORACLE_PENDING=1 also runs scenarios whose known
difference another engineer is fixing. `make oracle` sets these for a long campaign.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.oracle.oracle_jvm import KafkaStreamsOracle


@pytest.fixture(scope="session")
def oracle() -> Iterator[KafkaStreamsOracle]:
    with KafkaStreamsOracle() as jvm:
        yield jvm
