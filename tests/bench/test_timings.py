"""The harness's two timings agree by construction on what they count: the outside reader
(bench/drain.py) decides "complete" exactly when the output holds the expected answer, in
every framework's output format, and its rate covers the records the runner timed (those
processed after the runner's first observation), ending at the complete output."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import drain  # noqa: E402
import workloads as wl  # noqa: E402
from runner_io import window_rate  # noqa: E402


def test_progress_is_complete_only_when_every_final_count_is_right() -> None:
    records = wl.make_input(400, end_ms=300_000)
    for workload, want in (("W2", wl.expected_w2(records)), ("W3", wl.expected_w3(records))):
        progress = drain.Progress(workload, want)
        items = list(want.items())
        for key, count in items[:-1]:
            progress.add(key.encode(), orjson.dumps(count - 1))  # an earlier update
            progress.add(key.encode(), orjson.dumps(count))
        assert not progress.complete()  # one key still missing
        last_key, last_count = items[-1]
        progress.add(last_key.encode(), orjson.dumps(last_count + 1))
        assert not progress.complete()  # a wrong count does not complete it
        progress.add(last_key.encode(), orjson.dumps(last_count))
        assert progress.complete()
        progress.add(items[0][0].encode(), orjson.dumps(items[0][1] + 1))
        assert not progress.complete()  # a later wrong update undoes a right one
        progress.add(b"no-such-key", orjson.dumps(1))
        progress.add(None, orjson.dumps(1))
        progress.add(last_key.encode(), None)
        progress.add(items[0][0].encode(), orjson.dumps(items[0][1]))
        assert progress.complete()


def test_progress_reads_quix_window_results_and_counts_w1() -> None:
    records = wl.make_input(300, end_ms=200_000)
    want = wl.expected_w3(records)
    progress = drain.Progress("W3", want)
    for key, count in want.items():
        base, start = key.split("@")
        value = {"start": int(start), "end": int(start) + wl.WINDOW_SIZE_MS, "value": count}
        progress.add(base.encode(), orjson.dumps(value))
    assert progress.complete()

    want1 = wl.expected_w1(records)
    w1 = drain.Progress("W1", want1)
    for _ in range(want1[0] - 1):
        w1.add(b"k", b"{}")
    assert not w1.complete()
    w1.add(b"k", b"{}")
    assert w1.complete()


def test_outside_rate_covers_the_records_the_runner_timed() -> None:
    timer = drain.DrainTimer("unused:0", "g", "out", "W1", [1000, 0], 1000, 60)
    timer.t_spawn, timer.t_stable, timer.t_done = 100.0, 101.0, 104.0
    runner = {"first_mono": 102.0, "first_count": 200, "last_mono": 103.0, "flushed_mono": 103.5}
    out = timer.result(runner)
    assert out["outside_start"] == "first record processed"
    assert out["outside_rate"] == (1000 - 200) / (104.0 - 102.0)
    assert out["tail_s"] == 1.0 and out["seen_after_s"] == 0.5
    # the runner's own figure over the same span and records, ended at its last commit
    assert window_rate((102.0, 200), (103.0, 1000), 103.5) == 800 / 1.5
    # a runner's first record before the group was Stable is impossible: flagged
    early = timer.result({**runner, "first_mono": 100.5})
    assert "before the group was Stable" in early["outside_error"]
    # a runner that reports no first record: the group turning Stable starts the window
    plain = timer.result({})
    assert plain["outside_start"] == "group stable" and plain["outside_rate"] == 1000 / 3.0
