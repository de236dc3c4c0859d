"""Restoring a task's stores from their changelogs before the task processes anything.

Changelog batches go straight into the bytes store (one write batch per fetched batch), so
restoration costs what the broker and RocksDB cost, not what per-record processing costs.
Caught up means a fetch at the current position returned nothing and the position has
reached the end offset we saw (the end offset alone is not trusted: see DESIGN.md).
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from streamz_kit.errors import BrokerError
from streamz_kit.faults import maybe_crash
from streamz_kit.state.manager import ChangelogTarget
from streamz_kit.transport.port import Consumer, TopicPartition, Transport

log = logging.getLogger("streamz_kit.restore")
_SLOW_WARNING_S = 10.0  # a restore that reads nothing this long says so (and goes on)


def _position(consumer: Consumer, tp: TopicPartition) -> int:
    """The consumer's position, or -1 while it is being reset (offset out of range)."""
    try:
        return consumer.position(tp)
    except BrokerError:
        return -1


@dataclass
class RestoreResult:
    records: int
    seconds: float
    per_partition: dict[TopicPartition, int] = field(default_factory=dict)


class _Progress:
    """A rich progress bar on a terminal, a log line every few seconds otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self.started = time.monotonic()
        self._last_log = self.started
        self._bar: Any = None
        self._task: Any = None
        if self.total > 10_000 and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} records"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(label, total=self.total)

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
            return
        now = time.monotonic()
        if now - self._last_log >= 5 and self.total:
            rate = self.done / max(now - self.started, 1e-9)
            left = max(self.total - self.done, 0) / rate if rate else 0
            log.info(
                "%s: restored %d of ~%d records (%.0f records/s, ~%.0f s left)",
                self.label,
                self.done,
                self.total,
                rate,
                left,
            )
            self._last_log = now

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def restore(
    transport: Transport,
    targets: list[ChangelogTarget],
    label: str,
    batch: int = 20_000,
    *,
    registry: dict[str, Any] | None = None,
    keys: tuple[str, ...] = (),
) -> RestoreResult:
    """Bring every target store up to its changelog's end.

    All targets share one consumer and one read loop, so restoring many tasks after a
    rebalance costs one pass over their changelogs, not one pass per task."""
    started = time.monotonic()
    if not targets:
        return RestoreResult(0, 0.0)
    admin = transport.admin()
    partitions = [t.partition for t in targets]
    earliest = await admin.list_offsets(partitions, "earliest")
    latest = await admin.list_offsets(partitions, "latest")
    consumer = transport.consumer(group_id=None)
    starts: dict[TopicPartition, int] = {}
    by_partition: dict[TopicPartition, ChangelogTarget] = {}
    for target in targets:
        tp = target.partition
        stored = target.next_offset()
        if stored is not None and stored > 0 and latest.get(tp, 0) == 0:
            # The changelog is empty but the state is not: the topic was deleted and
            # recreated (a reset) while this state directory survived. The changelog wins.
            log.warning(
                "Store %s is ahead of its changelog %s (offset %d > end %d); wiping it and "
                "restoring from the changelog.",
                target.name,
                tp.topic,
                stored,
                latest.get(tp, 0),
            )
            target.wipe()
            stored = None
        start = earliest.get(tp, 0) if stored is None else max(stored, earliest.get(tp, 0))
        if target.end is not None:
            latest[tp] = min(latest.get(tp, 0), target.end)
            start = min(start, latest[tp])
        starts[tp] = start
        by_partition[tp] = target
    # Every partition is read until a fetch at its position comes back empty; the end
    # offset only sizes the progress bar (Tansu's can be short, and Kafka's may grow).
    total = sum(max(latest.get(tp, 0) - starts[tp], 0) for tp in partitions)
    progress = _Progress(total, f"Restoring {label}")
    if registry is not None:
        for key in keys:  # one shared progress per task id, read by metrics and `status`
            registry[key] = progress
    restored = 0
    per_partition = {tp: 0 for tp in partitions}
    try:
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        maybe_crash("restore:start")
        exact = bool(getattr(transport, "exact_end_offsets", False))
        empty_polls = 0
        waiting_since = time.monotonic()
        while True:
            # Kafka: done when every partition reached the end measured above and two polls
            # came back empty. Empty polls alone are no proof there: a fresh consumer's
            # first fetches can take longer than two polls on a loaded machine, and stopping
            # then would start the task on empty state. The embedded log answers in-process:
            # its reader stops at the end or at two empty polls (its end can count records a
            # read_committed reader never reaches, such as an aborted transaction's).
            caught_up = all(_position(consumer, tp) >= latest.get(tp, 0) for tp in partitions)
            if (caught_up or exact) and (empty_polls >= 2 or (exact and caught_up)):
                break
            if not caught_up and time.monotonic() - waiting_since > _SLOW_WARNING_S:
                waiting_since = time.monotonic()
                behind = {
                    f"{tp.topic}[{tp.partition}]": (_position(consumer, tp), latest.get(tp, 0))
                    for tp in partitions
                    if _position(consumer, tp) < latest.get(tp, 0)
                }
                log.warning(
                    "Restoring %s: no changelog record for %.0f s; still behind (position, end): "
                    "%s. Check that the broker is reachable; restoration goes on.",
                    label,
                    _SLOW_WARNING_S,
                    behind,
                )
            fetched = await consumer.poll(timeout_ms=100, max_records=batch)
            got = 0
            for tp, records in fetched.items():
                target = by_partition[tp]
                if target.end is not None:
                    records = [r for r in records if r.offset < target.end]
                    if consumer.position(tp) >= target.end:
                        consumer.pause([tp])  # caught up to the committed position
                if records:
                    target.restore(records)
                    maybe_crash("restore:batch")
                    got += len(records)
                    per_partition[tp] += len(records)
            restored += got
            progress.advance(got)
            empty_polls = empty_polls + 1 if got == 0 else 0
            if got:
                waiting_since = time.monotonic()
    finally:
        if registry is not None:
            for key in keys:
                registry.pop(key, None)
        progress.close()
        await consumer.close()
    seconds = time.monotonic() - started
    if restored:
        log.info(
            "%s: restored %d records in %.2f s (%.0f records/s)",
            label,
            restored,
            seconds,
            restored / max(seconds, 1e-9),
        )
    return RestoreResult(restored, seconds, per_partition)
