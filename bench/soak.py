"""Soak: the recommendations topology on the embedded log, at a steady rate, for a long time,
with time retention on its topics. Does the log file stop growing, and do the worker's
memory and latency stay flat?

    python bench/soak.py --rate 2000 --minutes 30 --retention-s 300        # the full soak
    python bench/soak.py --rate 300 --minutes 1 --retention-s 10 --report-s 10 --check-s 2

Three processes, as bench/latency.py: the example's generator writing `--rate` actions/s,
the worker (sk_runner.py --serve, W4, at_least_once, commit 100 ms), and this process
reading `recommendations`. Every `--report-s` seconds it prints one line: elapsed time, the
log's size on disk (`file_mb`: log.db + log.db-wal; `wal_mb`), the database's own size
(`db_mb`: page count x page size, what log.db holds once checkpointed), the record bytes its
topics retain (`retained_mb`), split into topics bounded by time retention (`retention_mb`),
by the repartition purge (`internal_mb`) and changelogs, bounded by compaction to the
application's state (`changelog_mb`), the input's retained records and summed log start offsets, the worker's RSS,
the p99 end-to-end latency of outputs seen in that interval, their count, and the load. Retention (`--retention-s`) is set on the input and on the three output topics
(else the outputs alone grow the file); changelogs stay compacted and the repartition topic
is purged by the worker after its commits. The retention check interval of every process
is `--check-s` (the environment variable STREAMZ_LOG_RETENTION_CHECK_INTERVAL_MS).

`run_soak` is also what tests/bench/test_soak_short.py calls, on a short budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from streamz_kit.transport import TopicPartition, TopicSpec, connect  # noqa: E402

INPUT = "user-actions"
OUTPUTS = ("recommendations", "trending", "trending-windows")
PARTITIONS = 4


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def file_mb(log_dir: Path, names: tuple[str, ...] = ("log.db", "log.db-wal")) -> float:
    total = 0
    for name in names:
        try:
            total += (log_dir / name).stat().st_size
        except OSError:
            pass
    return total / 1e6


def database_mb(transport: Any) -> float:
    """The database's size as of its last commit (page count x page size): what log.db
    holds once the WAL is checkpointed, so it does not wait for a checkpoint to show."""

    def read(conn: Any) -> int:
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (size,) = conn.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(size)

    return int(transport.log.db.read(read)) / 1e6


def _kind(topic: str) -> str:
    """Which rule bounds a topic: time retention (the input and outputs), the repartition
    purge (repartition and foreign-key subscription topics), or compaction (changelogs,
    whose size is the application's state)."""
    if topic in (INPUT, *OUTPUTS):
        return "retention"
    if topic.endswith("-changelog"):
        return "changelog"
    if topic.endswith(("-repartition", "-topic")):
        return "internal"
    return "other"


async def _create_topics(broker: str, retention_ms: int) -> None:
    transport = connect(broker)
    await transport.start()
    try:
        config = {"retention.ms": str(retention_ms)}
        await transport.admin().create_topics(
            [TopicSpec(t, PARTITIONS, config) for t in (INPUT, *OUTPUTS)]
        )
        # The example's other input, the item catalogue (a table: no retention set).
        from examples.recommendations.generator import ensure_topics

        await ensure_topics(transport, PARTITIONS)
    finally:
        await transport.close()


async def _watch(
    broker: str,
    log_dir: Path,
    worker_pid: int,
    stop: asyncio.Event,
    report_s: float,
    started: float,
    say: Callable[[str], None],
    rows: list[dict[str, Any]],
) -> None:
    transport = connect(broker)
    await transport.start()
    admin = transport.admin()
    consumer = transport.consumer(group_id=None)
    tps = [TopicPartition("recommendations", p) for p in range(PARTITIONS)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    latencies: list[float] = []
    outputs = 0
    next_report = started + report_s
    try:
        while not stop.is_set():
            batch = await consumer.poll(timeout_ms=50, max_records=5_000)
            now_ms = time.time() * 1000
            for records in batch.values():
                outputs += len(records)
                latencies.extend(now_ms - r.timestamp for r in records)
            if time.monotonic() >= next_report:
                next_report += report_s
                states = await admin.describe_partitions(await admin.list_topics())
                kinds = {"retention": 0, "internal": 0, "changelog": 0, "other": 0}
                for state in states:
                    kinds[_kind(state.topic)] += state.bytes or 0
                starts = [s.start_offset for s in states if s.topic == INPUT]
                ends = [s.end_offset for s in states if s.topic == INPUT]
                row = {
                    "t_s": round(time.monotonic() - started),
                    "file_mb": round(file_mb(log_dir), 1),
                    "wal_mb": round(file_mb(log_dir, ("log.db-wal",)), 1),
                    "db_mb": round(database_mb(transport), 1),
                    "retained_mb": round(sum(kinds.values()) / 1e6, 1),
                    "retention_mb": round(kinds["retention"] / 1e6, 2),
                    "internal_mb": round(kinds["internal"] / 1e6, 2),
                    "changelog_mb": round(kinds["changelog"] / 1e6, 1),
                    "input_records": sum(ends) - sum(starts),
                    "input_start": sum(starts),
                    "rss_mb": round(rss_mb(worker_pid), 1),
                    "p99_ms": round(percentile(latencies, 99), 1),
                    "outputs": outputs,
                    "load": round(os.getloadavg()[0], 1),
                }
                rows.append(row)
                say(json.dumps(row))
                latencies, outputs = [], 0
    finally:
        await consumer.close()
        await admin.close()
        await transport.close()


async def run_soak(
    workdir: Path,
    *,
    rate: int,
    seconds: float,
    retention_s: float,
    report_s: float,
    check_s: float,
    say: Callable[[str], None] = print,
    log: Any = None,
    compact_min_dirty: int | None = None,
    purge_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Run the soak; returns one row per report interval (see the module docstring)."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_dir = workdir / "log"
    broker = f"embedded://{log_dir}"
    env = {
        **os.environ,
        "STREAMZ_LOG_RETENTION_CHECK_INTERVAL_MS": str(int(check_s * 1000)),
        "PYTHONPATH": str(ROOT),
    }
    if compact_min_dirty is not None:
        env["STREAMZ_LOG_COMPACT_MIN_DIRTY"] = str(compact_min_dirty)
    await _create_topics(broker, int(retention_s * 1000))
    ready = workdir / "ready"
    worker = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited per record
        [
            sys.executable,
            str(HERE / "sk_runner.py"),
            "--serve",
            "--workload",
            "W4",
            "--broker",
            broker,
            "--guarantee",
            "at_least_once",
            "--app-id",
            "recommendations",
            "--state-dir",
            str(workdir / "state"),
            "--commit-ms",
            "100",
            "--ready-file",
            str(ready),
        ]
        + ([] if purge_ms is None else ["--purge-ms", str(purge_ms)]),
        stdout=subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
        env=env,
    )
    generator: subprocess.Popen[bytes] | None = None
    rows: list[dict[str, Any]] = []
    stop = asyncio.Event()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the soak worker did not start; see its log")
            await asyncio.sleep(0.05)
        started = time.monotonic()
        watcher = asyncio.ensure_future(
            _watch(broker, log_dir, worker.pid, stop, report_s, started, say, rows)
        )
        generator = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                str(ROOT / "examples" / "recommendations" / "generator.py"),
                "--broker",
                broker,
                "--rate",
                str(rate),
                "--count",
                str(int(rate * seconds)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
            env=env,
        )
        while generator.poll() is None:
            if worker.poll() is not None:
                raise RuntimeError("the soak worker died; see its log")
            await asyncio.sleep(0.2)
        stop.set()
        await watcher
    finally:
        if generator is not None and generator.poll() is None:
            generator.terminate()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=2000, help="actions per second")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--retention-s", type=float, default=300)
    parser.add_argument("--report-s", type=float, default=60)
    parser.add_argument(
        "--check-s", type=float, default=30, help="retention check interval of every process"
    )
    parser.add_argument("--workdir", type=Path, help="default: a new temporary directory")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="streamz-soak-"))
    print(
        f"# soak in {workdir}: {args.rate}/s for {args.minutes} min, retention "
        f"{args.retention_s} s, check every {args.check_s} s, cpus={os.cpu_count()}, "
        f"load={os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with open(workdir.parent / f"{workdir.name}.log", "ab") as log:
        rows = asyncio.run(
            run_soak(
                workdir,
                rate=args.rate,
                seconds=args.minutes * 60,
                retention_s=args.retention_s,
                report_s=args.report_s,
                check_s=args.check_s,
                say=lambda line: print(line, flush=True),
                log=log,
            )
        )
    print(f"# done: {len(rows)} rows, load={os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
