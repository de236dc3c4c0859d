"""The benchmark's input data, its streamz_kit topologies and the checks every framework must pass.

One module so the input, the expected answer and the topology cannot drift apart: the harness
preloads `make_input(n)`, each framework processes it, and `verify_*` compares what reached the
output topic with what the input implies. A fast wrong answer cannot win.

Input: N JSON records keyed `k0` .. `k9999` (10,000 keys), partitioned with Kafka's partitioner
(so a per-key count needs no repartition in any framework), timestamps 1 ms apart ending now.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

KEYS = 10_000
PARTITIONS = 4
INPUT_TOPIC = "bench-in"
KINDS = ("view", "like", "purchase", "view", "skip")
WINDOW_SIZE_MS = 60_000
WINDOW_ADVANCE_MS = 10_000

Record = tuple[bytes, bytes, int]  # key, value, timestamp_ms


def make_input(n: int, *, end_ms: int | None = None) -> list[Record]:
    """N records; timestamps end at `end_ms` (now) so no broker retention drops them."""
    end = int(time.time() * 1000) if end_ms is None else end_ms
    base = end - n
    out: list[Record] = []
    dumps = orjson.dumps
    for i in range(n):
        key = f"k{i % KEYS}"
        value = {"id": i, "user": key, "amount": i % 100, "kind": KINDS[i % 5]}
        out.append((key.encode(), dumps(value), base + i))
    return out


# -- the W1 callbacks, shared with the peers' scripts in spirit (same predicate, same mapping) --
def w1_keep(value: dict[str, Any]) -> bool:
    return value["kind"] != "skip"


def w1_map(value: dict[str, Any]) -> dict[str, Any]:
    return {"id": value["id"], "amount_cents": value["amount"] * 100, "kind": value["kind"]}


# -- expected answers ----------------------------------------------------------------------------
def expected_w1(records: list[Record]) -> tuple[int, int]:
    """(count, sum of ids) of the records W1 must write."""
    count = total = 0
    for _, value, _ in records:
        v = orjson.loads(value)
        if w1_keep(v):
            count += 1
            total += v["id"]
    return count, total


def expected_w2(records: list[Record]) -> Counter[str]:
    return Counter(k.decode() for k, _, _ in records)


def window_starts(ts: int) -> range:
    """Starts of the hopping windows [start, start + size) that contain `ts`."""
    last = ts - ts % WINDOW_ADVANCE_MS
    first = max(0, last - WINDOW_SIZE_MS + WINDOW_ADVANCE_MS)
    return range(first, last + 1, WINDOW_ADVANCE_MS)


def expected_w3(records: list[Record]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for key, _, ts in records:
        k = key.decode()
        for start in window_starts(ts):
            counts[f"{k}@{start}"] += 1
    return counts


# -- verification (outputs as raw (key, value) bytes, in partition order) -------------------------
def verify_w1(outputs: Iterable[tuple[bytes | None, bytes | None]], want: tuple[int, int]) -> str:
    count = total = 0
    for _, value in outputs:
        assert value is not None
        count += 1
        total += orjson.loads(value)["id"]
    if (count, total) == want:
        return "ok"
    return f"WRONG: {count} records (id sum {total}), want {want[0]} (id sum {want[1]})"


def _final(outputs: Iterable[tuple[bytes | None, bytes | None]], windowed: bool) -> dict[str, int]:
    final: dict[str, int] = {}
    for key, value in outputs:
        if key is None or value is None:
            continue
        v = orjson.loads(value)
        k = key.decode()
        if isinstance(v, dict):  # quixstreams' window result: {"start", "end", "value"}
            k, v = f"{k}@{v['start']}", v["value"]
        final[k] = int(v)
    return final


def verify_counts(
    outputs: Iterable[tuple[bytes | None, bytes | None]],
    want: Counter[str],
    *,
    windowed: bool = False,
) -> str:
    """Last update per key (or key@window start) must equal the expected count."""
    final = _final(outputs, windowed)
    if final == dict(want):
        return "ok"
    missing = len(set(want) - set(final))
    wrong = sum(1 for k, c in final.items() if want.get(k) != c)
    return f"WRONG: {missing} of {len(want)} keys missing, {wrong} with a wrong final count"


# -- streamz_kit topologies ------------------------------------------------------------------------
def sk_topology(workload: str, out_topic: str) -> Any:
    """The streamz_kit topology of W1, W2, W3 or W4 (W4: examples/recommendations)."""
    import streamz_kit as sk
    from streamz_kit import serdes

    if workload == "W4":
        root = Path(__file__).resolve().parent.parent
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        from examples.recommendations.pipeline import build_topology

        return build_topology()
    builder = sk.StreamsBuilder()
    stream = builder.stream(INPUT_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON)
    if workload == "W1":
        stream.filter(lambda k, v: w1_keep(v)).map_values(w1_map).to(out_topic)
    elif workload == "W2":
        stream.group_by_key().count(materialized=sk.Materialized("w2-counts")).to_stream().to(
            out_topic, value_serde=serdes.JSON
        )
    elif workload == "W3":
        windows = sk.TimeWindows.of_size_with_no_grace(WINDOW_SIZE_MS).advance_by(WINDOW_ADVANCE_MS)
        (
            stream.group_by_key()
            .windowed_by(windows)
            .count(materialized=sk.Materialized("w3-counts"))
            .to_stream()
            .map(lambda wk, c: (f"{wk.key}@{wk.window.start}", c))
            .to(out_topic, key_serde=serdes.STRING, value_serde=serdes.JSON)
        )
    else:
        raise ValueError(f"unknown workload {workload!r}")
    return builder.build()


def windows_available() -> bool:
    """W3 runs only when the DSL has hopping windows (another engineer is finishing them)."""
    try:
        import streamz_kit as sk

        grouped = sk.StreamsBuilder().stream("x").group_by_key()
        sk.TimeWindows.of_size_with_no_grace(WINDOW_SIZE_MS).advance_by(WINDOW_ADVANCE_MS)
        return hasattr(grouped, "windowed_by")
    except Exception:  # noqa: BLE001 -- any failure means "not available"
        return False
