"""The benchmark harness in its tiny mode: every workload runs, every output passes its check.

No timing is asserted (figures on a shared 2-core machine prove nothing in a test); what is
asserted is that the harness still runs end to end and that the checks it relies on to stop a
fast wrong answer from winning still reject wrong answers.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import workloads as wl  # noqa: E402


def test_quick_run_prints_the_table_and_every_check_passes(tmp_path: Path) -> None:
    results = tmp_path / "latest.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--results", str(results)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = results.read_text()
    assert "| workload | broker | guarantee | streamz_kit rec/s" in table
    rows = [line for line in table.splitlines() if line.startswith("| W")]
    workloads = {row.split("|")[1].strip() for row in rows}
    assert {"W1", "W2", "W4"} <= workloads
    for row in rows:
        if not row.startswith("| W4 latency"):
            assert row.rstrip(" |").endswith("ok"), row
    assert "exactly_once" in table and "W4 latency" in table
    assert "streamz_kit rec/s" in proc.stdout
    # every throughput run's window ends at its last commit, after its last record: the
    # close's flush is inside the in-process figure, as it is inside the outside one
    raw = orjson.loads(results.with_suffix(".json").read_bytes())
    runs = [row["sk"] for row in raw["rows"] if row["sk"] is not None]
    assert runs
    for run in runs:
        assert run["flushed_mono"] is not None and run["flushed_mono"] >= run["last_mono"], run


def test_checks_reject_wrong_answers() -> None:
    records = wl.make_input(500, end_ms=10_000_000)
    want1 = wl.expected_w1(records)
    good = [
        (k, orjson.dumps(wl.w1_map(orjson.loads(v))))
        for k, v, _ in records
        if wl.w1_keep(orjson.loads(v))
    ]
    assert wl.verify_w1(good, want1) == "ok"
    assert wl.verify_w1(good[:-1], want1).startswith("WRONG")
    assert wl.verify_w1(good + good[:1], want1).startswith("WRONG")

    want2 = wl.expected_w2(records)
    updates = [(k.encode(), orjson.dumps(c)) for k, c in want2.items()]
    assert wl.verify_counts(updates, want2) == "ok"
    assert wl.verify_counts(updates[:-1], want2).startswith("WRONG")
    off_by_one = updates[:-1] + [(updates[-1][0], orjson.dumps(orjson.loads(updates[-1][1]) + 1))]
    assert wl.verify_counts(off_by_one, want2).startswith("WRONG")


def test_hopping_window_expectation_matches_brute_force() -> None:
    records = wl.make_input(300, end_ms=200_000)
    brute: Counter[str] = Counter()
    for key, _, ts in records:
        for start in range(0, ts + 1, wl.WINDOW_ADVANCE_MS):
            if start <= ts < start + wl.WINDOW_SIZE_MS:
                brute[f"{key.decode()}@{start}"] += 1
    assert wl.expected_w3(records) == brute
    # Quix Streams' window results ({"start", "end", "value"} under the plain key) verify too.
    quix = [
        (
            k.split("@")[0].encode(),
            orjson.dumps({"start": int(k.split("@")[1]), "end": 0, "value": c}),
        )
        for k, c in brute.items()
    ]
    assert wl.verify_counts(quix, brute, windowed=True) == "ok"
