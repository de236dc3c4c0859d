"""Soak: the recommendations topology on the embedded log, at a steady rate, for a long time,
with time retention on its topics. Does the log file stop growing, and do the worker's
memory and latency stay flat?

    setsid python bench/soak.py --rate 2000 --minutes 30 --retention-s 300 --priority -10
    python bench/soak.py --rate 300 --minutes 1 --retention-s 10 --report-s 10 --check-s 2

Three processes, as bench/latency.py: the example's generator writing `--rate` actions/s,
the worker (sk_runner.py --serve, W4, at_least_once, commit 100 ms), and this process
reading `recommendations`. Every `--report-s` seconds it prints one line: elapsed time, the
log's size on disk (`file_mb`: log.db + log.db-wal; `wal_mb`), the database's own size
(`db_mb`: page count x page size, what log.db holds once checkpointed), the record bytes its
topics retain (`retained_mb`), split into topics bounded by time retention (`retention_mb`),
by the repartition purge (`internal_mb`) and changelogs, bounded by compaction to the
application's state (`changelog_mb`), the input's retained records and summed log start
offsets, the worker's RSS and its CPU in that interval (`worker_cpu`, in cores), the p99
end-to-end latency of outputs seen in that interval, their count, and the 1-minute load
average. `--priority -10` (root) raises the soak's session above the machine's other
sessions (see `raise_priority`); `--memprobe` makes the worker write where its memory goes
(bench/memprobe.py). Retention (`--retention-s`) is set on the input and on the three output topics
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

import w4_procs  # noqa: E402
from w4_procs import percentile  # noqa: E402

from streamz_kit.transport import TopicPartition, TopicSpec, connect  # noqa: E402

INPUT = "user-actions"
OUTPUTS = ("recommendations", "trending", "trending-windows")
PARTITIONS = 4


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (for its share of a core per interval)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def raise_priority(nice: int) -> str:
    """Give this process's session (the soak, its worker and generator) `nice` against
    the machine's other sessions. With autogroup scheduling (Linux's default on desktops
    and this VM: /proc/sys/kernel/sched_autogroup_enabled = 1) CPU time is split between
    sessions first and `nice` only orders processes inside one, so `nice -n -10` alone
    left the worker ~35 % of a core at load 11; the session's own nice
    (/proc/self/autogroup) is what competes. Needs root to go below 0; says what it did."""
    done = []
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
        done.append(f"nice {nice}")
    except OSError as exc:
        done.append(f"nice unchanged ({exc.strerror})")
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
        with open("/proc/self/autogroup") as f:
            done.append(f.read().strip())
    except OSError as exc:
        done.append(f"autogroup unchanged ({exc.strerror})")
    return ", ".join(done)


def last_probe(path: Path | None) -> dict[str, Any]:
    """The worker's latest memory line (bench/memprobe.py), the RocksDB and malloc parts."""
    if path is None:
        return {}
    try:
        lines = path.read_text().splitlines()
        probe = json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}
    keys = ("rocksdb_block_cache_mb", "rocksdb_memtables_mb", "malloc_in_use_mb", "malloc_free_mb")
    return {k: probe[k] for k in keys if k in probe}


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
    probe: Path | None = None,
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
    cpu_before, cpu_at = cpu_seconds(worker_pid), time.monotonic()
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
                    "worker_cpu": round(
                        (cpu_seconds(worker_pid) - cpu_before) / (time.monotonic() - cpu_at), 2
                    ),
                    "p99_ms": round(percentile(latencies, 99), 1),
                    "outputs": outputs,
                    "load": round(os.getloadavg()[0], 1),
                    **last_probe(probe),
                }
                cpu_before, cpu_at = cpu_seconds(worker_pid), time.monotonic()
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
    worker_args: list[str] | None = None,
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
    args = worker_args or []
    probe = Path(args[args.index("--memprobe") + 1]) if "--memprobe" in args else None
    worker, ready = w4_procs.start_worker(
        broker,
        workdir,
        guarantee="at_least_once",
        commit_ms=100,
        extra=([] if purge_ms is None else ["--purge-ms", str(purge_ms)]) + (worker_args or []),
        stderr=log,
        env=env,
    )
    generator: subprocess.Popen[str] | None = None
    rows: list[dict[str, Any]] = []
    stop = asyncio.Event()
    try:
        await w4_procs.wait_ready(worker, ready, "soak")
        started = time.monotonic()
        watcher = asyncio.ensure_future(
            _watch(broker, log_dir, worker.pid, stop, report_s, started, say, rows, probe)
        )
        generator = w4_procs.start_generator(broker, rate, seconds, stderr=log, env=env)
        while generator.poll() is None:
            if worker.poll() is not None:
                raise RuntimeError("the soak worker died; see its log")
            await asyncio.sleep(0.2)
        stop.set()
        await watcher
    finally:
        w4_procs.stop(generator, worker)
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
    parser.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="NICE",
        help="nice for this session (process and autogroup), e.g. -10 as root on a shared machine",
    )
    parser.add_argument(
        "--memprobe",
        action="store_true",
        help="the worker appends memory figures (bench/memprobe.py) to WORKDIR/memprobe.jsonl",
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="with --memprobe: trace the Python heap too"
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="streamz-soak-"))
    if args.priority is not None:
        print(f"# priority: {raise_priority(args.priority)}", flush=True)
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
                worker_args=(
                    ["--memprobe", str(workdir / "memprobe.jsonl"), "--memprobe-s"]
                    + [str(args.report_s)]
                    + (["--tracemalloc"] if args.tracemalloc else [])
                    if args.memprobe
                    else []
                ),
            )
        )
    print(f"# done: {len(rows)} rows, load={os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
