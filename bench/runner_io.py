"""What every measured runner shares: its arguments, the one rate formula, its peak RSS and
its result line. Standard library only: the peers import it from their own virtualenv
(bench/peer_quix.py, bench/peer_faust.py) as bench/sk_runner.py does from the project's.

The in-process rate, the same for every framework (the Kafka Streams peer, in Java, computes
it the same way): records counted from the first observation of the counter to the last,
divided by the time from the first observation to `end`, where `end` is the end of the
runner's last commit after its last record (the close's: the record caches' final flush,
the producer's flush and the offsets' commit), the moment its last output was durable. The
harness's outside timing (bench/drain.py) ends when that output is visible to a reader, so
the two measure the same span; `processing_rate` (ending at the last record) is kept beside.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping


def window_rate(
    first: tuple[float, int] | None, last: tuple[float, int] | None, end: float | None
) -> float | None:
    """(last count - first count) / (end - first time); `first` and `last` are (time, count)."""
    if first is None or last is None or end is None or end <= first[0]:
        return None
    return (last[1] - first[1]) / (end - first[0])


def peak_rss_kb() -> int:
    """VmHWM of this process. Not getrusage: Linux carries ru_maxrss across exec, so a child
    would report the harness's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def peer_args(extra: list[tuple[str, str]] | None = None) -> argparse.Namespace:
    """The arguments the harness gives every Python peer (bench/run.py's peer_cmd)."""
    p = argparse.ArgumentParser()
    for name in ("--workload", "--bootstrap", "--out", "--state-dir", "--group"):
        p.add_argument(name, required=True)
    p.add_argument("--target", type=int, required=True)
    for name, default in extra or []:
        p.add_argument(name, default=default)
    return p.parse_args()


def result_line(result: Mapping[str, object]) -> str:
    """The one line the harness parses (bench/run.py's parse_result)."""
    return "BENCH_RESULT " + json.dumps(result)


def emit(result: Mapping[str, object]) -> None:
    """Write the result line straight to fd 1 (Faust replaces sys.stdout with a logger)."""
    os.write(1, (result_line(result) + "\n").encode())
