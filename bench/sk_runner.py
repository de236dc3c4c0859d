"""One streamz_kit benchmark run, in its own process (the harness starts one per row).

    python bench/sk_runner.py --workload W2 --broker embedded://DIR --guarantee exactly_once \
        --target 200000 --state-dir DIR --out w2-out-...

Throughput mode (default): start the App, watch the worker's own counter
(`App.metrics()["records_processed"]`) from a thread every 5 ms, and stop once it reaches
`--target`. The rate is (records seen between the first and the last observation) / (time
from the first observation to the end of the commit that made the last output durable), so
start-up (imports, group join, restoration) is excluded and the final flush of the record
caches is counted: a user waits for it, and the harness's outside timing (bench/drain.py)
counts it too. `processing_rate` is the same count up to the last record processed only.
Prints one line `BENCH_RESULT {json}`.

Serve mode (`--serve`): run until SIGTERM (the latency measurement drives it from outside);
writes `--ready-file` once the App is running.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner_io import peak_rss_kb, result_line, window_rate  # noqa: E402
from workloads import sk_topology  # noqa: E402

import streamz_kit as sk  # noqa: E402

POLL_S = 0.005


class Watcher(threading.Thread):
    """Samples the processed-record counter; sets `done` once it reaches the target."""

    def __init__(
        self,
        app: sk.App,
        target: int,
        loop: asyncio.AbstractEventLoop,
        done: asyncio.Event,
        timeout_s: float,
    ) -> None:
        super().__init__(daemon=True)
        self.app, self.target, self.loop, self.done = app, target, loop, done
        self.timeout_s = timeout_s
        self.first: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None
        # the process's CPU time at `first` and `last`: records per CPU-second hold still
        # on a loaded machine, where the wall-clock rate moves with everyone else's work
        self.cpu_first = self.cpu_last = 0.0
        self.timed_out = False

    def run(self) -> None:
        started = time.monotonic()
        while True:
            time.sleep(POLL_S)
            now = time.monotonic()
            worker = self.app._worker  # noqa: SLF001 -- read-only counter, no metrics() dict per sample
            n = worker.records_processed if worker is not None else 0
            if n and self.first is None:
                self.first = (now, n)
                self.cpu_first = time.process_time()
            if n and (self.last is None or n != self.last[1]):
                self.last = (now, n)
                self.cpu_last = time.process_time()
            if n >= self.target or self.app.error is not None:
                break
            if now - started > self.timeout_s:
                self.timed_out = True
                break
        self.loop.call_soon_threadsafe(self.done.set)


def stamp_commits(app: sk.App) -> list[float]:
    """The CLOCK_MONOTONIC end of every commit that committed something, the close's included:
    the last one is when the last output became durable (at_least_once: sent, acknowledged
    and the offsets committed; exactly_once: the transaction committed). Measuring only: the
    TaskManager's own commit runs unchanged."""
    worker = app._worker  # noqa: SLF001 -- the runner times the worker; it changes nothing
    tasks = worker.tasks if worker is not None else None
    ends: list[float] = []
    if tasks is None:
        return ends
    commit = tasks.commit

    async def timed(force: bool = False, only: Collection[str] | None = None) -> bool:
        committed = await commit(force=force, only=only)
        if committed:
            ends.append(time.monotonic())
        return committed

    tasks.commit = timed  # type: ignore[method-assign]
    return ends


def make_app(args: argparse.Namespace) -> sk.App:
    return sk.App(
        sk_topology(args.workload, args.out),
        application_id=args.app_id,
        broker=args.broker,
        processing_guarantee=args.guarantee,
        state_dir=args.state_dir,
        commit_interval_ms=args.commit_ms,
        **({} if args.cache_max_bytes is None else {"cache_max_bytes": args.cache_max_bytes}),
        **({} if args.purge_ms is None else {"repartition_purge_interval_ms": args.purge_ms}),
    )


async def throughput(args: argparse.Namespace) -> dict[str, Any]:
    app = make_app(args)
    t_start = time.monotonic()
    await app.start()
    t_started = time.monotonic()
    commit_ends = stamp_commits(app)
    done = asyncio.Event()
    watcher = Watcher(app, args.target, asyncio.get_running_loop(), done, args.timeout)
    watcher.start()
    waiter = asyncio.ensure_future(done.wait())
    loop_task = app._loop_task  # noqa: SLF001 -- an engine crash must end the wait
    assert loop_task is not None
    await asyncio.wait({waiter, loop_task}, return_when=asyncio.FIRST_COMPLETED)
    t_stop = time.monotonic()
    commits = app.metrics().get("commits")
    worker = app._worker  # noqa: SLF001 -- read-only: time spent in commits during the run
    stats = worker.tasks.stats if worker is not None and worker.tasks is not None else None
    commit_s = stats.total_commit_ms / 1000 if stats is not None else None
    await app.stop()
    t_stopped = time.monotonic()
    watcher.join(timeout=1)
    first, last = watcher.first, watcher.last
    # the last output durable: the end of the last commit after the last record (the close's)
    flushed = commit_ends[-1] if commit_ends and last and commit_ends[-1] >= last[0] else None
    start, coarse = first, False
    if first and last and last[0] <= first[0]:
        # everything arrived in one batch (tiny inputs): count from the App's start
        start, coarse = (t_started, 0), True
    rate = window_rate(start, last, flushed or (last[0] if last else None)) or 0.0
    return {
        "rate": rate,
        "processing_rate": window_rate(start, last, last[0] if last else None),
        "processed": last[1] if last else 0,
        "startup_s": (first[0] - t_start) if first else None,
        "window_s": (last[0] - first[0]) if first and last else None,
        "flush_s": (flushed - last[0]) if flushed and last else None,
        "stop_s": t_stopped - t_stop,
        "timed_out": watcher.timed_out,
        "error": None if app.error is None else repr(app.error),
        "coarse": coarse,
        "commits": commits,
        "commit_s": commit_s,
        "cpu_rate": (
            (last[1] - first[1]) / (watcher.cpu_last - watcher.cpu_first)
            if first and last and watcher.cpu_last > watcher.cpu_first
            else None
        ),
        # the window's start on CLOCK_MONOTONIC (shared by every process of the machine):
        # the harness's outside timing starts here too (bench/drain.py)
        "first_mono": first[0] if first else None,
        "first_count": start[1] if start else None,  # records processed before first_mono
        "last_mono": last[0] if last else None,
        "flushed_mono": flushed,
        "peak_rss_kb": peak_rss_kb(),
    }


async def serve(args: argparse.Namespace) -> None:
    app = make_app(args)
    await app.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    probe = None
    if args.memprobe:
        import memprobe

        probe = asyncio.ensure_future(
            memprobe.run(Path(args.memprobe), args.memprobe_s, args.tracemalloc)
        )
    if args.ready_file:
        Path(args.ready_file).write_text("ready")
    loop_task = app._loop_task  # noqa: SLF001
    assert loop_task is not None
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, loop_task}, return_when=asyncio.FIRST_COMPLETED)
    if probe is not None:
        probe.cancel()
    await app.stop()
    error = None if app.error is None else repr(app.error)
    print(result_line({"peak_rss_kb": peak_rss_kb(), "error": error}), flush=True)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--workload", required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--guarantee", default="at_least_once")
    p.add_argument("--app-id", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--out", default="out")
    p.add_argument("--target", type=int, default=0)
    p.add_argument("--commit-ms", type=int, default=None)
    p.add_argument(
        "--cache-max-bytes",
        type=int,
        default=None,
        help="record cache size; 0 sends every table update at once (low latency)",
    )
    p.add_argument(
        "--purge-ms",
        type=int,
        default=None,
        help="repartition_purge_interval_ms (default: the App's, 30 s)",
    )
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--serve", action="store_true")
    p.add_argument("--ready-file", default=None)
    p.add_argument("--memprobe", default=None, help="serve: append memory figures here")
    p.add_argument("--memprobe-s", type=float, default=60.0)
    p.add_argument("--tracemalloc", action="store_true", help="serve: trace the Python heap")
    args = p.parse_args()
    if args.serve:
        asyncio.run(serve(args))
        return 0
    result = asyncio.run(throughput(args))
    print(result_line(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
