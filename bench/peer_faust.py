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
measurement). Rate = (records - 1) / (end of that flush - first): start-up excluded, the final
flush counted, as sk_runner.py measures streamz_kit (bench/runner_io.py); the harness also
times the drain from outside (bench/drain.py) and prints both.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faust  # noqa: E402
from runner_io import emit, peak_rss_kb, peer_args, window_rate  # noqa: E402
from workloads import INPUT_TOPIC, w1_keep, w1_map  # noqa: E402


def main() -> int:
    args = peer_args([("--input", INPUT_TOPIC)])
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
            flushed = time.monotonic()  # the last output acknowledged by the broker
            first, seen = state["first"], int(state["seen"])
            start, end = ((first, 1), (last, seen)) if last > first else (None, None)
            emit(
                {
                    "rate": window_rate(start, end, flushed) or 0.0,
                    "processing_rate": window_rate(start, end, last),
                    "processed": seen,
                    "startup_s": first - state["t0"],
                    "window_s": last - first,
                    "first_mono": first,  # CLOCK_MONOTONIC: the outside timing starts here
                    "first_count": 1,  # stamped after the first record was processed
                    "last_mono": last,
                    "flushed_mono": flushed,
                    "flush_s": flushed - last,
                    "stop_s": flushed - last,
                    "peak_rss_kb": peak_rss_kb(),
                }
            )
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
