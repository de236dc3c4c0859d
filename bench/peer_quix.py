"""W1/W2/W3 written for Quix Streams; runs in the harness's peers virtualenv, never the main one.

    bench/.peers-venv/bin/python bench/peer_quix.py --workload W1 --bootstrap 127.0.0.1:PORT \
        --out w1-out-quix --target 200000 --state-dir DIR --group G

The per-record callbacks count records (first and last time seen); the run stops itself once
`--target` input records went through, and prints `BENCH_RESULT {json}`. Quix idioms: W2 is a
stateful `apply` over its RocksDB state (changelog on), W3 `hopping_window(...).count().current()`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quixstreams import Application  # noqa: E402
from workloads import INPUT_TOPIC, WINDOW_ADVANCE_MS, WINDOW_SIZE_MS, w1_keep, w1_map  # noqa: E402


def peak_rss_kb() -> int:
    """VmHWM of this process. Not getrusage: Linux carries ru_maxrss across exec, so a child
    would report the harness's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--group", required=True)
    args = p.parse_args()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )
    seen = 0
    first = last = 0.0
    target = args.target

    def tick() -> None:
        nonlocal seen, first, last
        seen += 1
        now = time.monotonic()
        if seen == 1:
            first = now
        if seen >= target:
            last = now
            app.stop()

    inp = app.topic(INPUT_TOPIC, key_deserializer="str", value_deserializer="json")
    out = app.topic(args.out, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(inp)
    if args.workload == "W1":
        def keep(value: dict[str, Any]) -> bool:
            tick()
            return w1_keep(value)

        sdf = sdf.filter(keep).apply(w1_map)
    elif args.workload == "W2":
        def count(value: dict[str, Any], state: Any) -> int:
            tick()
            n = state.get("count", 0) + 1
            state.set("count", n)
            return n

        sdf = sdf.apply(count, stateful=True)
    elif args.workload == "W3":
        sdf = sdf.update(lambda value: tick())
        sdf = sdf.hopping_window(duration_ms=WINDOW_SIZE_MS, step_ms=WINDOW_ADVANCE_MS).count().current()
    else:
        raise SystemExit(f"unknown workload {args.workload}")
    sdf.to_topic(out)
    t0 = time.monotonic()
    app.run()
    t_end = time.monotonic()
    rate = (seen - 1) / (last - first) if last > first else 0.0
    print("BENCH_RESULT " + json.dumps({
        "rate": rate, "processed": seen, "startup_s": first - t0 if first else None,
        "window_s": last - first, "stop_s": t_end - last if last else None,
        "peak_rss_kb": peak_rss_kb(),
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
