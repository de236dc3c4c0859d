"""The soak (bench/soak.py) on a short budget: the recommendations topology at a low steady
rate with tight retention on its topics. What retention and the repartition purge bound stops
growing once they have caught up (over the last third of the run it stays within the middle
third's), retention moved the input's log start offset, and the database follows the data
retained: freed pages went back, so it is not much larger than the records it holds. (The
changelogs hold the application's state, whose key space keeps growing in a minute's run:
users x items; the 30-minute soak shows where it levels off.) No timing is asserted."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402

RATE = 300
RETENTION_S = 6
CHECK_S = 1


def test_the_log_stops_growing_under_retention(tmp_path: Path) -> None:
    lines: list[str] = []
    rows = asyncio.run(
        soak.run_soak(
            tmp_path / "soak",
            rate=RATE,
            seconds=54,
            retention_s=RETENTION_S,
            report_s=4.5,
            check_s=CHECK_S,
            compact_min_dirty=300,
            purge_ms=1000,
            say=lines.append,
        )
    )
    report = "\n".join(lines)
    assert len(rows) >= 9, report
    third = len(rows) // 3
    middle, last = rows[third : 2 * third], rows[2 * third :]
    # 0.5 MB of slack: a worker slowed by a busy machine holds a few seconds more of
    # uncommitted repartition records and writes outputs in bursts. Without retention and
    # the purge these grow by half from the middle third to the last, far past the slack.
    for kind in ("retention_mb", "internal_mb"):
        assert max(r[kind] for r in last) <= max(r[kind] for r in middle) * 1.25 + 0.5, report
    # The database (page count x page size: what log.db holds once checkpointed) follows the
    # records retained: batches are small here, so pages are at most half full on average.
    for r in last:
        assert r["db_mb"] <= 2 * r["retained_mb"] + 2, report
    # Retention keeps about RETENTION_S + CHECK_S seconds of input, whatever ran before.
    assert rows[-1]["input_start"] > 0, report
    assert max(r["input_records"] for r in last) <= 2 * RATE * (RETENTION_S + CHECK_S + 2), report
    assert sum(r["outputs"] for r in rows) > 0, report
