"""The recommendations example (W4) run as the user runs it, for bench/latency.py and bench/soak.py.

Both measure it the same way: the streamz_kit worker (`sk_runner.py --serve`) started first and
waited for, then the example's own generator writing `rate` actions/s for `seconds`, while the
caller reads `recommendations`; at the end the generator and the worker are stopped (SIGTERM:
the worker commits and prints its `BENCH_RESULT` line). Latency figures are nearest-rank
percentiles of the outputs' (seen - timestamp).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # the callers import the example's package next
    sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


def start_worker(
    broker: str,
    workdir: Path,
    *,
    guarantee: str,
    commit_ms: int,
    extra: list[str] | None = None,
    stdout: int | IO[Any] | None = subprocess.DEVNULL,
    stderr: IO[Any] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], Path]:
    """The W4 worker serving until SIGTERM; returns it and the file it writes once running."""
    ready = workdir / "ready"
    worker = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "sk_runner.py"),
            "--serve",
            "--workload",
            "W4",
            "--broker",
            broker,
            "--guarantee",
            guarantee,
            "--app-id",
            "recommendations",
            "--state-dir",
            str(workdir / "state"),
            "--commit-ms",
            str(commit_ms),
            "--ready-file",
            str(ready),
            *(extra or []),
        ],
        stdout=stdout,
        stderr=stderr or subprocess.DEVNULL,
        env=env,
        text=True,
    )
    return worker, ready


async def wait_ready(worker: subprocess.Popen[str], ready: Path, what: str) -> None:
    """Until the worker runs its App (at most 60 s); a sentence naming `what` if it does not."""
    deadline = time.monotonic() + 60
    while not ready.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {what} worker did not start; see its log")
        await asyncio.sleep(0.05)


def start_generator(
    broker: str,
    rate: int,
    seconds: float,
    stderr: IO[Any] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """The example's generator writing `rate` actions/s for `seconds` (then it exits)."""
    return subprocess.Popen(
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
        stderr=stderr or subprocess.DEVNULL,
        env=env,
        text=True,
    )


def stop(generator: subprocess.Popen[str] | None, worker: subprocess.Popen[str]) -> str:
    """Stop the generator if it still runs and the worker (SIGTERM, SIGKILL after 30 s);
    the worker's stdout when it was piped, else ''."""
    if generator is not None and generator.poll() is None:
        generator.terminate()
    worker.terminate()
    try:
        out, _ = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        out, _ = worker.communicate()
    return out or ""
