"""W1/W2 written for faust-streaming; runs in the harness's peers virtualenv only.

    bench/.peers-venv/bin/python bench/peer_faust.py --workload W1 --bootstrap 127.0.0.1:PORT \
        --out w1-out-faust --target 200000 --state-dir DIR --group G

Settings, and why they are fair:
- guarantee: Faust's default, at_least_once (as everyone's default here);
- commit: Faust's defaults (every 2.8 s or 10,000 messages);
- caching: Faust tables have no record cache: every update goes to the changelog, and W2's
  agent sends each new count itself (the Faust idiom);
- serdes: raw keys, "json" values (Faust's codec), as the others' JSON;
- idioms: an agent over the input topic (`async for key, value in stream.items()`), `await
  topic.send()` (which only buffers: it does not wait for the ack); W2 a `Table` on RocksDB
  (rocksdict) with its changelog. W3 is not written for Faust (see docs/benchmarks.md).
The agent counts records; once `--target` went through it flushes the producer, prints
`BENCH_RESULT {json}` and exits (Faust's own shutdown takes seconds and is not part of the
measurement). Rate = (records - 1) / (last - first), start-up excluded; the harness also times
the drain from outside (bench/drain.py) and prints both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faust  # noqa: E402
from workloads import INPUT_TOPIC, w1_keep, w1_map  # noqa: E402


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
    p.add_argument("--input", default=INPUT_TOPIC)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="rocksdb://",
        datadir=args.state_dir,
        topic_partitions=4,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="json",
    )
    inp = app.topic(args.input, key_serializer="raw", value_serializer="json")
    out = app.topic(args.out, key_serializer="raw", value_serializer="json", partitions=4)
    target = args.target
    state = {"seen": 0, "first": 0.0, "t0": time.monotonic()}

    async def tick() -> None:
        state["seen"] += 1
        now = time.monotonic()
        if state["seen"] == 1:
            state["first"] = now
        if state["seen"] >= target:
            last = now
            await app.producer.flush()
            first = state["first"]
            line = "BENCH_RESULT " + json.dumps(
                {
                    "rate": (state["seen"] - 1) / (last - first) if last > first else 0.0,
                    "processed": state["seen"],
                    "startup_s": first - state["t0"],
                    "window_s": last - first,
                    "first_mono": first,  # CLOCK_MONOTONIC: the outside timing starts here
                    "last_mono": last,
                    "stop_s": time.monotonic() - last,
                    "peak_rss_kb": peak_rss_kb(),
                }
            )
            os.write(1, (line + "\n").encode())  # Faust replaces sys.stdout with a logger
            os._exit(0)

    if args.workload == "W1":

        @app.agent(inp)
        async def w1(stream: Any) -> None:
            async for key, value in stream.items():
                if w1_keep(value):
                    await out.send(key=key, value=w1_map(value))
                await tick()
    elif args.workload == "W2":
        table = app.Table("w2-counts", default=int, partitions=4)

        @app.agent(inp)
        async def w2(stream: Any) -> None:
            async for key, _value in stream.items():
                n = table[key] + 1
                table[key] = n
                await out.send(key=key, value=n)
                await tick()
    else:
        raise SystemExit(f"unknown workload {args.workload}")
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()
    return 1  # app.main() only returns when the worker ended without reaching the target


if __name__ == "__main__":
    sys.exit(main())
