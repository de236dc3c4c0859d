"""Latency samples taken once per poll batch, never per record.

The worker calls `BatchObserver.observe(batch, seconds)` after processing each batch; it
records how long the batch took and, for the last record of each partition in it, the
end-to-end latency (wall clock minus the record's timestamp). Prometheus reads the
histograms at scrape time.
"""

from __future__ import annotations

import bisect
import time
from typing import Any

PROCESSING_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
E2E_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)


class Histogram:
    """Cumulative-bucket histogram in Prometheus' shape, cheap enough for once per batch."""

    __slots__ = ("bounds", "count", "counts", "last", "max", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.count = 0
        self.sum = 0.0
        self.last = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value
        self.last = value
        self.max = max(self.max, value)

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, count at or below it) pairs, ending with +Inf, for exposition."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip(self.bounds, self.counts[:-1], strict=True):
            running += n
            out.append((repr(float(bound)), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out

    def summary(self) -> dict[str, float]:
        mean = self.sum / self.count if self.count else 0.0
        return {"count": self.count, "mean": mean, "last": self.last, "max": self.max}


class BatchObserver:
    """Processing latency per batch and sampled end-to-end latency."""

    def __init__(self) -> None:
        self.processing = Histogram(PROCESSING_BUCKETS)
        self.e2e = Histogram(E2E_BUCKETS)
        self.batches = 0

    def observe(self, batch: dict[Any, list[Any]], seconds: float) -> None:
        """Called by the worker after each non-empty batch (see Worker.batch_observer)."""
        self.batches += 1
        self.processing.observe(seconds)
        now_ms = time.time() * 1000
        for records in batch.values():
            if records:
                self.e2e.observe(max(now_ms - records[-1].timestamp, 0.0) / 1000.0)
