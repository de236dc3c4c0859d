"""One plain-dict picture of a running App, read from counters the runtime already keeps.

`app.metrics()`, the Prometheus collector, `/status` and the status file all read this, so
they always agree. Building it walks tasks and stores (a few dict reads each) and is meant
for scrapes and a periodic tick, not for the processing path.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from streamz_kit.observability.histogram import BatchObserver
from streamz_kit.observability.lag import LagTracker

LATE = "late record"


class RateMeter:
    """records/s between successive `update` calls, from a monotonically growing counter."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int]] = {}
        self.rates: dict[str, float] = {}

    def update(self, name: str, count: int, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        previous = self._last.get(name)
        if previous is None or count < previous[1]:
            self._last[name] = (now, count)
            return self.rates.setdefault(name, 0.0)
        elapsed = now - previous[0]
        if elapsed >= 0.5:
            self.rates[name] = (count - previous[1]) / elapsed
            self._last[name] = (now, count)
        return self.rates.get(name, 0.0)


def _store_entries(store: Any) -> int | None:
    try:
        return int(store.approximate_num_entries())
    except Exception:  # a closed or failing store: unknown, not fatal for a scrape
        return None


def _task_facts(task: Any, global_names: set[str], rates: RateMeter) -> dict[str, Any]:
    puts = sum(c.puts for c in task.context.caches)
    hits = sum(c.hits for c in task.context.caches)
    skipped = dict(task.skipped)
    return {
        "task_id": task.task_id,
        "state": task.state.value,
        "processed": task.processed,
        "records_per_second": round(rates.update(f"task:{task.task_id}", task.processed), 3),
        "skipped": skipped,
        "late_records_dropped": skipped.get(LATE, 0),
        "dead_lettered": task.dead_lettered,
        "stream_time": task.stream_time,
        "stores": {
            name: _store_entries(store)
            for name, store in task.stores.items()
            if name not in global_names
        },
        "cache_puts": puts,
        "cache_hits": hits,
        "cache_hit_ratio": round(hits / puts, 4) if puts else None,
        # async operators (processor/async_ops.py), by operator name
        "async_calls": {node.name: node.metrics() for node in getattr(task, "async_nodes", ())},
    }


def _restoration(manager: Any) -> dict[str, Any]:
    stats = manager.stats
    progress = getattr(manager, "restore_progress", {}) or {}
    restoring = {}
    for task_id in sorted(manager.restoring):
        entry = progress.get(task_id)
        done = int(getattr(entry, "done", 0)) if entry is not None else None
        total = int(getattr(entry, "total", 0)) if entry is not None else None
        restoring[task_id] = {"restored": done, "total": total}
    return {
        "restoring": restoring,
        "restored_records": stats.restored_records,
        "restore_seconds": round(stats.restore_seconds, 3),
        "per_task_restored": dict(stats.per_task_restored),
    }


def build_snapshot(
    app: Any,
    observer: BatchObserver,
    lag: LagTracker,
    rates: RateMeter,
    endpoints: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Everything an operator asks about one worker, as JSON-ready values."""
    worker = getattr(app, "_worker", None)
    manager = getattr(worker, "tasks", None) if worker is not None else None
    snap: dict[str, Any] = {
        "application_id": app.application_id,
        "state": app.state.value,
        "pid": os.getpid(),
        # Its index under `run --workers N` (None: a worker on its own).
        "worker": os.environ.get("STREAMZ_WORKER"),
        "host": socket.gethostname(),
        "broker": app.config.broker,
        "processing_guarantee": app.config.processing_guarantee,
        "updated_at": time.time(),
        "endpoints": dict(endpoints or {}),
    }
    if worker is None or manager is None:
        return snap
    stats = manager.stats
    global_names = set(getattr(worker, "global_stores", {}))
    uptime = time.monotonic() - worker.started_at if worker.started_at else 0.0
    running = manager.running()
    tasks = [_task_facts(t, global_names, rates) for _, t in sorted(running.items())]
    partitions: dict[str, list[str]] = {}
    for tp, task in manager.task_by_tp.items():
        partitions.setdefault(task.task_id, []).append(f"{tp.topic}-{tp.partition}")
    for facts in tasks:
        facts["partitions"] = sorted(partitions.get(facts["task_id"], []))
        facts["lag"] = sum(
            n for tp, n in lag.lag.items() if f"{tp.topic}-{tp.partition}" in facts["partitions"]
        )
    for task_id, task in sorted(manager.tasks.items()):
        if task_id not in running:  # restoring or suspended: no figures of its own yet
            tasks.append(
                {"task_id": task_id, "state": task.state.value, "partitions": [], "stores": {}}
            )
    snap.update(
        uptime_seconds=round(uptime, 3),
        records_processed=worker.records_processed,
        records_per_second=round(rates.update("app", worker.records_processed), 3),
        commits=stats.commits,
        last_commit_ms=stats.last_commit_ms,
        total_commit_ms=stats.total_commit_ms,
        restored_records=stats.restored_records,
        tasks=sorted(running),
        task_details=tasks,
        skipped=sum(sum(t.skipped.values()) for t in running.values()),
        late_records_dropped=sum(t.skipped.get(LATE, 0) for t in running.values()),
        dead_lettered=sum(t.dead_lettered for t in running.values()),
        lag={f"{tp.topic}-{tp.partition}": n for tp, n in sorted(lag.lag.items())},
        total_lag=lag.total,
        lag_refreshed_at=lag.refreshed_at or None,
        restoration=_restoration(manager),
        global_stores={name: _store_entries(s) for name, s in worker.global_stores.items()},
        processing_latency=observer.processing.summary(),
        e2e_latency=observer.e2e.summary(),
    )
    return snap
