"""Async operators through the App on the embedded broker: SIGKILL with calls in flight and
records queued behind them (accepted by the node, not yet called).

Nothing is lost under either guarantee, and under exactly_once nothing is duplicated and
every key's outputs are in input order: a commit covers only records whose call completed
and whose result was produced in the same transaction.
"""

from __future__ import annotations

import signal
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from tests.runtime.e2e import Worker, produce, read_all, run, wait_for

TOTAL = 1500
KEYS = 25


def events(start: int, n: int) -> list[tuple[str, dict[str, int]]]:
    return [(f"k{i % KEYS}", {"seq": i}) for i in range(start, start + n)]


def enriched(broker: str) -> list[tuple[str, int]]:
    out = []
    for key, value in run(read_all(broker, "enriched")):
        assert key is not None and value is not None
        record = orjson.loads(value)
        assert record["key"] == key.decode()
        out.append((record["key"], record["seq"]))
    return out


def ended_calls(log: Path) -> int:
    return log.read_text().count("e") if log.exists() else 0


def call_states(log: Path) -> tuple[set[int], set[int]]:
    """(in flight: started, not ended; queued: accepted by the node, never started)."""
    seen: dict[str, set[int]] = {"q": set(), "s": set(), "e": set()}
    for line in log.read_text().split():
        seen[line[0]].add(int(line[1:]))
    return seen["s"] - seen["e"], seen["q"] - seen["s"]


def unfinished_calls(log: Path) -> set[int]:
    """Calls started and not ended (in flight)."""
    return call_states(log)[0]


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_sigkill_with_calls_in_flight_and_queued_loses_nothing(
    tmp_path: Path, guarantee: str
) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    run(produce(broker, "events", events(0, TOTAL), partitions=3))
    env = {"E2E_BROKER": broker, "E2E_GUARANTEE": guarantee}
    in_flight_at_kill = queued_at_kill = 0
    for round_ in range(2):
        calls = tmp_path / f"calls{round_}.log"
        worker = Worker(
            "async_app.py", {**env, "ASYNC_CALL_LOG": str(calls)}, tmp_path / f"w{round_}.log"
        )
        # Killed once this run has made calls of its own (so calls are in flight).
        wait_for(lambda calls=calls: ended_calls(calls) >= 150, 60, worker, "150 calls")
        assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
        in_flight, queued = call_states(calls)
        in_flight_at_kill += len(in_flight)
        queued_at_kill += len(queued)
    assert in_flight_at_kill > 0, "no call was in flight at either kill: the test proves nothing"
    assert queued_at_kill > 0, "no record was queued at either kill: the test proves nothing"
    calls = tmp_path / "final-calls.log"
    worker = Worker("async_app.py", {**env, "ASYNC_CALL_LOG": str(calls)}, tmp_path / "final.log")
    wait_for(
        lambda: {s for _, s in enriched(broker)} == set(range(TOTAL)),
        90,
        worker,
        "every record enriched",
    )
    assert worker.stop(signal.SIGTERM) == 0, worker.output()[-3000:]
    out = enriched(broker)
    assert {s for _, s in out} == set(range(TOTAL))  # nothing lost
    if guarantee == "exactly_once":
        assert len(out) == TOTAL, f"{len(out) - TOTAL} duplicates under exactly_once"
        per_key: dict[str, list[int]] = defaultdict(list)
        for key, seq in out:
            per_key[key].append(seq)
        for key, seqs in per_key.items():
            assert seqs == sorted(seqs), f"{key} out of input order: {seqs[:20]}"
