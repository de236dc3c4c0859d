"""Hypothesis strategies for oracle cases: random inputs over a small key space with null
keys, null values (tombstones), out-of-order timestamps inside and beyond grace, and large
time jumps; wall-clock advances for scenarios that punctuate on the wall clock."""

from __future__ import annotations

import itertools
import os
from typing import Any

from hypothesis import strategies as st

from tests.oracle.scenarios import Scenario

KEYS = st.sampled_from(["a", "b", "c", None])
# 0..20, and None about one time in eight (shrinks towards 0, a plain value)
VALUES = st.integers(0, 23).map(lambda v: None if v > 20 else v)
# How time moves at each step: mostly forward by a little (0 included: equal timestamps),
# sometimes a record from the past (inside or beyond grace), rarely a large jump.
MOVES = st.one_of(
    st.tuples(st.just("fwd"), st.integers(0, 10)),
    st.tuples(st.just("fwd"), st.integers(0, 10)),
    st.tuples(st.just("fwd"), st.integers(0, 10)),
    st.tuples(st.just("back"), st.integers(1, 40)),
    st.tuples(st.just("jump"), st.integers(100, 100_000)),
)
_ids = itertools.count(1)
# The DSL's store type on both sides: in-memory by default (opening RocksDB costs ~30x the
# rest of a case on each side); ORACLE_STORE=rocksdb runs the same cases on RocksDB.
STORE = os.environ.get("ORACLE_STORE", "memory")


def _steps(raw: list[Any], start: int, topics: list[str]) -> list[dict[str, Any]]:
    t = start
    steps: list[dict[str, Any]] = []
    for topic_i, key, value, (move, amount), header, advance in raw:
        if advance is not None:
            steps.append({"advance": advance})
            continue
        if move == "fwd" or move == "jump":
            t += amount
            ts = t
        else:
            ts = max(0, t - amount)
        step: dict[str, Any] = {"t": topics[topic_i % len(topics)], "k": key, "v": value, "ts": ts}
        if header:
            step["h"] = [["h", str(value)]]
        steps.append(step)
    return steps


def case_for(sc: Scenario, max_steps: int = 25) -> st.SearchStrategy[dict[str, Any]]:
    """Cases of scenario SC, in the JSON shape both sides read."""
    advance = (
        st.integers(0, 9).flatmap(lambda r: st.integers(0, 60) if r == 0 else st.none())
        if sc.wall_clock
        else st.none()
    )
    step = st.tuples(
        st.integers(0, len(sc.inputs) - 1),
        KEYS,
        VALUES,
        MOVES,
        st.integers(0, 7).map(lambda h: h == 7),
        advance,
    )
    params = st.fixed_dictionaries(dict(sc.params))
    topics = list(sc.inputs)

    def make(args: tuple[dict[str, Any], int, list[Any]]) -> dict[str, Any]:
        p, start, raw = args
        return case_dict(sc, p, _steps(raw, start, topics))

    return st.tuples(params, st.integers(0, 100), st.lists(step, max_size=max_steps)).map(make)


def case_dict(
    sc: Scenario, params: dict[str, Any], steps: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    case = {
        "id": next(_ids),
        "scenario": sc.name,
        "params": params,
        "inputs": sc.inputs,
        "outputs": sc.outputs,
        "stores": sc.stores,
        "store": sc.store or STORE,
        "cache_bytes": sc.cache_bytes,
        "steps": steps,
    }
    case.update(extra)
    return case
