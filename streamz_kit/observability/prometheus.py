"""Prometheus exposition: a collector that reads one snapshot per scrape.

Nothing is counted twice: the runtime's own counters are read at scrape time and turned
into metric families, so the processing path pays nothing for metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from streamz_kit.observability.histogram import BatchObserver, Histogram
from streamz_kit.runtime.task import TaskState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _histogram(name: str, doc: str, hist: Histogram) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, buckets=hist.cumulative(), sum_value=hist.sum)


def _counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels)


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def families(snap: dict[str, Any], observer: BatchObserver) -> Iterator[Metric]:
    app = snap["application_id"]
    state = _gauge("streamz_app_state", "1 for the App's current state.", ["app", "state"])
    state.add_metric([app, snap["state"]], 1)
    yield state
    if "records_processed" not in snap:
        return
    tasks = [t for t in snap["task_details"] if t.get("state") == TaskState.RUNNING.value]

    total = _counter("streamz_records_processed", "Records processed by this worker.", ["app"])
    total.add_metric([app], snap["records_processed"])
    yield total
    rate = _gauge("streamz_records_per_second", "Records processed per second, recently.", ["app"])
    rate.add_metric([app], snap["records_per_second"])
    yield rate
    per_task = _counter(
        "streamz_task_records_processed", "Records processed per task.", ["app", "task"]
    )
    per_rate = _gauge(
        "streamz_task_records_per_second", "Records per second per task.", ["app", "task"]
    )
    for t in tasks:
        per_task.add_metric([app, t["task_id"]], t["processed"])
        per_rate.add_metric([app, t["task_id"]], t["records_per_second"])
    yield per_task
    yield per_rate

    yield _histogram(
        "streamz_batch_processing_seconds",
        "Time to process one poll batch through the tasks.",
        observer.processing,
    )
    yield _histogram(
        "streamz_e2e_latency_seconds",
        "Wall clock minus record timestamp, sampled from the last record of each "
        "partition in each batch.",
        observer.e2e,
    )

    commits = _counter("streamz_commits", "Commits completed.", ["app"])
    commits.add_metric([app], snap["commits"])
    yield commits
    commit_time = _counter("streamz_commit_seconds", "Time spent committing.", ["app"])
    commit_time.add_metric([app], snap["total_commit_ms"] / 1000.0)
    yield commit_time
    last_commit = _gauge("streamz_last_commit_seconds", "Duration of the latest commit.", ["app"])
    last_commit.add_metric([app], snap["last_commit_ms"] / 1000.0)
    yield last_commit

    lag = _gauge(
        "streamz_consumer_lag",
        "Records between the worker's position and the end of each input partition.",
        ["app", "partition"],
    )
    for partition, n in snap["lag"].items():
        lag.add_metric([app, partition], n)
    yield lag
    lag_total = _gauge(
        "streamz_consumer_lag_total", "Sum of consumer lag over partitions.", ["app"]
    )
    lag_total.add_metric([app], snap["total_lag"])
    yield lag_total

    restoration = snap["restoration"]
    restoring = _gauge("streamz_restoring_tasks", "Tasks restoring state from changelogs.", ["app"])
    restoring.add_metric([app], len(restoration["restoring"]))
    yield restoring
    remaining = _gauge(
        "streamz_restore_remaining_records",
        "Changelog records left to restore, per restoring task.",
        ["app", "task"],
    )
    for task_id, progress in restoration["restoring"].items():
        if progress["total"] is not None:
            remaining.add_metric(
                [app, task_id], max(progress["total"] - (progress["restored"] or 0), 0)
            )
    yield remaining
    restored = _counter("streamz_restored_records", "Changelog records restored.", ["app"])
    restored.add_metric([app], restoration["restored_records"])
    yield restored
    restore_time = _counter("streamz_restore_seconds", "Time spent restoring.", ["app"])
    restore_time.add_metric([app], restoration["restore_seconds"])
    yield restore_time

    skipped = _counter(
        "streamz_records_skipped", "Records skipped, by reason.", ["app", "task", "reason"]
    )
    late = _counter(
        "streamz_late_records_dropped", "Records dropped as later than the grace.", ["app", "task"]
    )
    dead = _counter(
        "streamz_records_dead_lettered", "Records sent to a dead-letter topic.", ["app", "task"]
    )
    entries = _gauge(
        "streamz_store_entries", "Approximate entries per store instance.", ["app", "task", "store"]
    )
    puts = _counter("streamz_record_cache_puts", "Updates put in record caches.", ["app", "task"])
    hits = _counter(
        "streamz_record_cache_hits", "Updates that replaced a cached one.", ["app", "task"]
    )
    ratio = _gauge(
        "streamz_record_cache_hit_ratio", "Record-cache hits over puts.", ["app", "task"]
    )
    for t in tasks:
        tid = t["task_id"]
        for reason, n in t["skipped"].items():
            skipped.add_metric([app, tid, reason], n)
        late.add_metric([app, tid], t["late_records_dropped"])
        dead.add_metric([app, tid], t["dead_lettered"])
        for store, n in t["stores"].items():
            if n is not None:
                entries.add_metric([app, tid, store], n)
        puts.add_metric([app, tid], t["cache_puts"])
        hits.add_metric([app, tid], t["cache_hits"])
        if t["cache_hit_ratio"] is not None:
            ratio.add_metric([app, tid], t["cache_hit_ratio"])
    for store, n in snap["global_stores"].items():
        if n is not None:
            entries.add_metric([app, "global", store], n)
    yield from (skipped, late, dead, entries, puts, hits, ratio)
    yield from _async_families(app, tasks)
    yield from _log_families(app, snap.get("log"))


def _async_families(app: str, tasks: list[dict[str, Any]]) -> Iterator[Metric]:
    """The async operators' calls (processor/async_ops.py), per task and operator."""
    labels = ["app", "task", "operator"]
    in_flight = _gauge("streamz_async_in_flight", "Async calls running now.", labels)
    counters = {
        key: _counter(f"streamz_async_{key}", doc, labels)
        for key, doc in (
            ("calls", "Async call attempts started."),
            ("timeouts", "Async call attempts that timed out."),
            ("retries", "Async call attempts retried after a failure."),
            ("failures", "Async calls that failed after their retries."),
        )
    }
    latency = HistogramMetricFamily(
        "streamz_async_call_seconds", "Latency of successful async call attempts.", labels=labels
    )
    for t in tasks:
        for operator, m in t.get("async_calls", {}).items():
            key = [app, t["task_id"], operator]
            in_flight.add_metric(key, m["in_flight"])
            for name, family in counters.items():
                family.add_metric(key, m[name])
            latency.add_metric(key, m["latency_buckets"], m["latency_sum"])
    yield in_flight
    yield from counters.values()
    yield latency


def _log_families(app: str, facts: dict[str, Any] | None) -> Iterator[Metric]:
    """The embedded log's size on disk and what its topics retain (absent on Kafka)."""
    if not facts:
        return
    size = _gauge(
        "streamz_log_file_bytes",
        "Bytes the embedded log takes on disk (database and write-ahead log).",
        ["app"],
    )
    size.add_metric([app], facts["file_bytes"])
    yield size
    retained = _gauge(
        "streamz_log_retained_bytes",
        "Record bytes each topic of the embedded log retains.",
        ["app", "topic"],
    )
    for topic, n in facts["retained_bytes_by_topic"].items():
        retained.add_metric([app, topic], n)
    yield retained


class _Collector:
    def __init__(self, snapshot: Callable[[], dict[str, Any]], observer: BatchObserver) -> None:
        self._snapshot = snapshot
        self._observer = observer

    def collect(self) -> Iterator[Metric]:
        return families(self._snapshot(), self._observer)


def make_registry(
    snapshot: Callable[[], dict[str, Any]], observer: BatchObserver
) -> CollectorRegistry:
    """A registry of its own per App, so several Apps in one process do not collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snapshot, observer))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
