"""`make demo`: generator, worker and viewer together for a few seconds, then a summary.

    python examples/recommendations/demo.py                 # ~20 s, Ctrl-C ends it early
    python examples/recommendations/demo.py --seconds 5 --rate 2000

Everything lives in a fresh temporary directory (broker log and state), removed at the end
unless --keep, so the demo behaves the same from a fresh clone every time. The summary's
latency is end to end: from the action's timestamp (set by the generator when it writes
the action) to the moment the viewer sees the recommendation it caused, committed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from streamz_kit import serdes
from streamz_kit.transport import ConsumedRecord, connect

if __package__:
    from .generator import ensure_topics, produce_actions
    from .pipeline import INPUT_TOPIC, OUTPUT_TOPIC
    from .schemas import recommendation_serde, registry_for
    from .scoring_service import ScoringService
    from .viewer import format_recommendation, now_ms, tail
    from .workers import make_worker
else:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from generator import ensure_topics, produce_actions  # type: ignore[no-redef]
    from pipeline import INPUT_TOPIC, OUTPUT_TOPIC  # type: ignore[no-redef]
    from schemas import recommendation_serde, registry_for  # type: ignore[no-redef]
    from scoring_service import ScoringService  # type: ignore[no-redef]
    from viewer import format_recommendation, now_ms, tail  # type: ignore[no-redef]
    from workers import make_worker  # type: ignore[no-redef]


@dataclass
class Stats:
    """What the demo counts while it runs."""

    produced: int = 0
    recommendations: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    users: Counter[str] = field(default_factory=Counter)
    recent: deque[tuple[str, Any, int]] = field(default_factory=lambda: deque(maxlen=8))
    started: float = field(default_factory=time.monotonic)
    decode: Any = serdes.JSON  # the recommendations' value serde (Avro, set by run_demo)
    schema_versions: list[int] = field(default_factory=list)
    first_seen: float | None = None  # monotonic time of the first recommendation
    last_seen: float = field(default_factory=time.monotonic)
    last_seq: dict[str, int] = field(default_factory=dict)  # user -> last `actions` seen
    out_of_order: int = 0  # recommendations whose `actions` did not rise for their user
    scoring_calls: int = 0  # calls the scoring service answered (set at the end)

    def see(self, record: ConsumedRecord) -> None:
        latency = now_ms() - record.timestamp
        key = serdes.STRING.deserialize(OUTPUT_TOPIC, record.key) or "?"
        value = self.decode.deserialize(OUTPUT_TOPIC, record.value)
        self.recommendations += 1
        self.latencies_ms.append(latency)
        self.users[key] += 1
        # Per-user order: each recommendation carries the user's action count, which must
        # rise from one recommendation of that user to the next (async scoring included).
        seq = value.get("actions", 0) if isinstance(value, dict) else 0
        if seq <= self.last_seq.get(key, 0):
            self.out_of_order += 1
        self.last_seq[key] = seq
        self.recent.append((key, value, latency))
        self.last_seen = time.monotonic()
        if self.first_seen is None:
            self.first_seen = self.last_seen


def percentile(values: list[int], q: float) -> int:
    """Nearest-rank percentile (q in [0, 100]); 0 for no values."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def _status(stats: Stats, elapsed: float, worker: str) -> Text:
    return Text.assemble(
        (f"{elapsed:5.1f} s ", "bold"),
        f"worker: {worker}  actions: {stats.produced}  recommendations: {stats.recommendations}  ",
        (
            f"p50 {percentile(stats.latencies_ms, 50)} ms  p99 {percentile(stats.latencies_ms, 99)} ms",
            "yellow",
        ),
    )


def _panel(stats: Stats, elapsed: float, worker: str) -> Group:
    table = Table(title="latest recommendations", expand=True, show_edge=False)
    table.add_column("user → favourites → items", overflow="ellipsis", no_wrap=True)
    for user, value, latency in list(stats.recent):
        table.add_row(format_recommendation(user, value, latency))
    return Group(table, _status(stats, elapsed, worker))


async def run_demo(
    *,
    seconds: float,
    rate: float,
    users: int,
    worker_kind: str,
    broker: str | None,
    workdir: Path,
    console: Console,
    scoring: ScoringService | None = None,
) -> Stats:
    broker = broker or f"embedded://{workdir / 'broker'}"
    registry = registry_for(broker)
    stats = Stats(decode=recommendation_serde(registry))
    transport = connect(broker)
    await transport.start()
    try:
        await ensure_topics(transport)
    finally:
        await transport.close()

    worker = make_worker(
        worker_kind,
        broker,
        str(workdir / "state"),
        registry,
        scoring.url if scoring is not None else None,
    )
    await worker.start()
    finish = asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, finish.set)
    stop_generator, stop_viewer = asyncio.Event(), asyncio.Event()

    def produced(n: int) -> None:
        stats.produced = n

    viewer = loop.create_task(tail(broker, OUTPUT_TOPIC, stats.see, stop=stop_viewer))
    # Half way through, the generator moves to UserAction v2 (a new optional field) while
    # the worker keeps running: the schema evolution step.
    generator = loop.create_task(
        produce_actions(
            broker,
            rate=rate,
            users=users,
            stop=stop_generator,
            on_flush=produced,
            evolve_after=max(1, int(rate * seconds / 2)),
            registry=registry,
        )
    )
    started = stats.started = time.monotonic()
    live = (
        Live(console=console, refresh_per_second=4, transient=False)
        if console.is_terminal
        else None
    )
    next_line = started
    try:
        if live is not None:
            live.start()
        # A short run on a busy machine may spend its seconds creating the worker's tasks:
        # it then keeps generating (for at most 30 s more) until some actions went out.
        while not finish.is_set() and (
            time.monotonic() - started < seconds
            or (stats.produced == 0 and time.monotonic() - started < seconds + 30)
        ):
            if generator.done():
                generator.result()  # raise its error, if any
                break
            elapsed = time.monotonic() - started
            if live is not None:
                live.update(_panel(stats, elapsed, worker.name))
            elif time.monotonic() >= next_line:
                console.print(_status(stats, elapsed, worker.name))
                if stats.recent:
                    user, value, latency = stats.recent[-1]
                    console.print(format_recommendation(user, value, latency))
                next_line += 2.0
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(finish.wait(), 0.25)
        stop_generator.set()
        await generator
        # Let the worker catch up: stop once no recommendation arrived for a second (or
        # none at all yet, while a short run's worker is still creating its tasks).
        drain_until = time.monotonic() + (10 if stats.first_seen is not None else 30)
        while time.monotonic() < drain_until and (
            time.monotonic() - stats.last_seen < 1.0
            or (stats.first_seen is None and stats.produced > 0)
        ):
            await asyncio.sleep(0.1)
        if live is not None:
            live.update(_panel(stats, time.monotonic() - started, worker.name))
    finally:
        if live is not None:
            live.stop()
        stop_generator.set()
        stop_viewer.set()
        with contextlib.suppress(Exception):
            await viewer
        top = stats.users.most_common(1)
        if top:
            with contextlib.suppress(Exception):
                _show_profile(console, top[0][0], worker.profile(top[0][0]))
        await worker.stop()
        loop.remove_signal_handler(signal.SIGINT)
        if scoring is not None:
            stats.scoring_calls = scoring.calls
        with contextlib.suppress(Exception):
            stats.schema_versions = registry.get_versions(f"{INPUT_TOPIC}-value")
    return stats


def _show_profile(console: Console, user: str, profile: Any) -> None:
    if not isinstance(profile, dict):
        return
    affinity = ", ".join(
        f"{c} {a}" for c, a in sorted(profile["affinity"].items(), key=lambda kv: -kv[1])
    )
    console.print(
        Text.assemble(
            ("most active user ", "bold"),
            (user, "cyan"),
            f" (from the user-profiles store): {profile['actions']} actions, "
            f"affinity {affinity}; bought {len(profile['purchased'])} items; "
            f"recent {', '.join(profile['recent'][:5])}",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the recommendations example end to end.")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long to generate (%(default)s)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="actions per second (100 with the scoring step, 300 without)",
    )
    parser.add_argument("--users", type=int, default=500, help="distinct users (%(default)s)")
    parser.add_argument(
        "--worker",
        choices=("auto", "app", "driver"),
        default="auto",
        help="sk.App, or the TopologyTestDriver loop (auto: the App if present)",
    )
    parser.add_argument(
        "--broker",
        default=None,
        help="broker URL (default: a fresh embedded log in a temporary directory)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--no-scoring",
        action="store_true",
        help="leave out the async scoring step (and its local model server)",
    )
    args = parser.parse_args(argv)
    if args.rate is None:  # the scoring calls cost the worker CPU: a rate it keeps up with
        args.rate = 300.0 if args.no_scoring else 100.0
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, soft_wrap=True)  # piped output: keep lines whole
    workdir = Path(tempfile.mkdtemp(prefix="streamz-recs-demo-"))
    console.print(
        Text.assemble(
            ("recommendations demo", "bold"),
            f": {args.rate:.0f} actions/s from {args.users} users for {args.seconds:.0f} s "
            f"(Ctrl-C to stop early); state in {workdir}",
        )
    )
    # The model server: a local HTTP service answering in 5-50 ms, awaited per record.
    scoring = None if args.no_scoring else ScoringService().start()
    if scoring is not None:
        console.print(f"scoring service (5-50 ms per call) on {scoring.url}")
    try:
        stats = asyncio.run(
            run_demo(
                seconds=args.seconds,
                rate=args.rate,
                users=args.users,
                worker_kind=args.worker,
                broker=args.broker,
                workdir=workdir,
                console=console,
                scoring=scoring,
            )
        )
    except Exception as exc:  # noqa: BLE001 -- one clear sentence, not a traceback
        console.print(f"[red]demo failed:[/red] {type(exc).__name__}: {exc}")
        return 1
    finally:
        if scoring is not None:
            scoring.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    lat = stats.latencies_ms
    latency = (
        f"p50 {percentile(lat, 50)} ms, p99 {percentile(lat, 99)} ms, max {max(lat, default=0)} ms"
    )
    console.print(
        Text.assemble(
            ("summary: ", "bold"),
            (
                f"{stats.produced} actions produced, {stats.recommendations} recommendations seen "
                f"for {len(stats.users)} users; end-to-end latency "
            ),
            (latency, "yellow"),
        )
    )
    if scoring is not None:
        order = (
            "per-user order held (each user's action count rose from one recommendation "
            f"to the next, {len(stats.last_seq)} users)"
            if not stats.out_of_order
            else f"[red]{stats.out_of_order} recommendations out of per-user order[/red]"
        )
        console.print(
            f"scoring: {stats.scoring_calls} records went through the scoring service "
            f"(async, up to 32 in flight); {order}"
        )
    if stats.schema_versions:
        console.print(
            f"schemas: {INPUT_TOPIC}-value versions {stats.schema_versions} in the "
            "embedded registry (v2 added the optional `device` field while the worker "
            "ran; the worker reads both)"
        )
    if stats.first_seen is not None:
        console.print(
            f"the first recommendation arrived {stats.first_seen - stats.started:.1f} s "
            "after the worker started (task creation and restoration included)"
        )
    if stats.out_of_order:
        return 1
    if stats.produced and not stats.recommendations:
        console.print("[red]no recommendation came out; is the worker running?[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
