"""Every scenario against Kafka Streams' TopologyTestDriver on Hypothesis-drawn inputs.

The Java side runs in one JVM for the whole session; each example is submitted to it before
streamz_kit runs the same case, so both sides work at once. A difference fails with a minimal
input (Hypothesis shrinks it) printed as a ready-to-paste regression test.
"""

from __future__ import annotations

import os
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oracle.cases import case_for
from tests.oracle.compare import differences, failure_report
from tests.oracle.oracle_jvm import KafkaStreamsOracle
from tests.oracle.pyside import run_python
from tests.oracle.scenarios import load_all

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "25"))
SEED = int(os.environ.get("ORACLE_SEED", "0"))
PENDING = os.environ.get("ORACLE_PENDING") == "1"
PROGRESS = os.environ.get("ORACLE_PROGRESS") == "1"

SCENARIOS = load_all()
NAMES = sorted(n for n, sc in SCENARIOS.items() if PENDING or sc.pending is None)


@pytest.mark.parametrize("name", NAMES)
def test_matches_kafka_streams(name: str, oracle: KafkaStreamsOracle) -> None:
    sc = SCENARIOS[name]
    started = time.monotonic()
    count = [0]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED == 0,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(st.data())
    def check(data: st.DataObject) -> None:
        case = data.draw(case_for(sc), label="case")
        oracle.submit(case)
        ours = run_python(case)
        kafka = oracle.result()
        count[0] += 1
        if differences(case, kafka, ours):
            raise AssertionError(failure_report(case, kafka, ours))

    if SEED:
        from hypothesis import seed

        check = seed(SEED)(check)
    try:
        check()
    finally:
        if PROGRESS:
            print(
                f"oracle: {name}: {count[0]} cases in {time.monotonic() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
