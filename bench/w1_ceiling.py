"""W1 on Kafka against the raw aiokafka ceilings, alternating in one sitting on one broker.

    .venv/bin/python bench/w1_ceiling.py                        # 200,000 records, 3 rounds
    .venv/bin/python bench/w1_ceiling.py --before /tmp/old-tree # also streamz_kit from another tree

Each round runs, one after another: the pass-through consume-then-produce ceiling and the
hand-written W1 on raw aiokafka (bench/ceilings.py, in this process), then streamz_kit's W1
(bench/sk_runner.py, a fresh process, application id and output topic; with `--before`, first
the tree given, put first on PYTHONPATH, then this one). Every streamz_kit output is checked.
Each line gives records/s and records per CPU-second of the process doing the work (the
figure load moves least), with the load average beside it; the summary gives the medians and
the ratios of the medians. Why alternate: on a shared machine the load changes within
minutes, and ratios taken round by round on one broker are the ones worth comparing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import brokers  # noqa: E402
import ceilings  # noqa: E402
import workloads as wl  # noqa: E402
from brokers import ROOT  # noqa: E402


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def sk_w1(
    bootstrap: str, n: int, tree: str | None, work: Path, want: tuple[int, int]
) -> dict[str, Any]:
    app = f"w1c-{uuid.uuid4().hex[:8]}"
    out = f"out-{app}"
    asyncio.run(brokers.kafka_create_topics(bootstrap, [out]))
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    cmd = [
        sys.executable,
        str(HERE / "sk_runner.py"),
        *("--workload", "W1", "--broker", f"kafka://{bootstrap}", "--app-id", app),
        *("--out", out, "--state-dir", str(work / app), "--target", str(n)),
    ]
    proc = subprocess.run(cmd, capture_output=True, env=env)
    for line in proc.stdout.decode().splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.split(" ", 1)[1])
            got = asyncio.run(brokers.kafka_read(bootstrap, out))
            result["check"] = wl.verify_w1(got, want)
            return result
    return {"error": proc.stderr.decode()[-2000:]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--before", default=None, help="a tree (holding streamz_kit/) to run first")
    args = p.parse_args()
    records = wl.make_input(args.records)
    want = wl.expected_w1(records)
    sys.path.insert(0, str(ROOT))
    from interop.kafka_broker import KafkaBroker

    figures: dict[str, list[tuple[float, float]]] = {}
    n = args.records
    with KafkaBroker(heap_mb=768) as bootstrap, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(brokers.kafka_create_topics(bootstrap, [wl.INPUT_TOPIC]))
        asyncio.run(brokers.kafka_produce_batches(bootstrap, wl.INPUT_TOPIC, records))
        for _ in range(args.rounds):
            steps: list[tuple[str, Any]] = [
                (
                    "ceiling (pass-through)",
                    lambda: ceilings.consume_produce_rate(
                        bootstrap, wl.INPUT_TOPIC, f"cp-{uuid.uuid4().hex[:8]}", n
                    ),
                ),
                (
                    "hand-written W1",
                    lambda: ceilings.hand_w1_rate(
                        bootstrap, wl.INPUT_TOPIC, f"hw-{uuid.uuid4().hex[:8]}", n
                    ),
                ),
            ]
            for name, coro in steps:
                rate, cpu = asyncio.run(coro())
                figures.setdefault(name, []).append((rate, cpu))
                print(
                    f"{time.strftime('%H:%M:%S')} load {load():14s} {name:24s} "
                    f"{rate:>9,.0f}/s  {cpu:>9,.0f}/CPU-s",
                    flush=True,
                )
            for label, tree in (
                [("streamz_kit W1 (before)", args.before)] if args.before else []
            ) + [("streamz_kit W1", None)]:
                r = sk_w1(bootstrap, n, tree, Path(tmp), want)
                if r.get("error") or r.get("check") != "ok":
                    print(f"{label}: {r.get('error') or r.get('check')}", flush=True)
                    return 1
                figures.setdefault(label, []).append((r["rate"], r["cpu_rate"] or 0.0))
                print(
                    f"{time.strftime('%H:%M:%S')} load {load():14s} {label:24s} "
                    f"{r['rate']:>9,.0f}/s  {r['cpu_rate'] or 0:>9,.0f}/CPU-s  (check ok)",
                    flush=True,
                )
    med = {
        k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v))
        for k, v in figures.items()
    }
    print("\nmedians (records/s, records per CPU-second):")
    for k, (r, c) in med.items():
        print(f"  {k:24s} {r:>9,.0f}/s  {c:>9,.0f}/CPU-s")
    ceiling, hand = med["ceiling (pass-through)"], med["hand-written W1"]
    print("ratios of the medians (wall, CPU):")
    for k in [k for k in med if k.startswith("streamz_kit")]:
        w = med[k]
        print(
            f"  {k} / ceiling: {w[0] / ceiling[0]:.2f}, {w[1] / ceiling[1]:.2f}; "
            f"/ hand-written W1: {w[0] / hand[0]:.2f}, {w[1] / hand[1]:.2f}"
        )
    print(f"  hand-written W1 / ceiling: {hand[0] / ceiling[0]:.2f}, {hand[1] / ceiling[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
