"""The second timing: the drain of N records as seen from outside the measured process.

Every runner reports its own rate (bench/runner_io.py: records counted from its first
observation of its counter to the last, over the time from that first observation to the end
of its last commit, the close's final flush included). That figure is only as honest as the
runner, so the harness also times each Kafka run itself: a thread watches the consumer group
and the output topic while the child runs, and records

- the start: the moment the runner processed its first record, as the runner reports it on
  CLOCK_MONOTONIC (`first_mono`: Python's time.monotonic, Java's System.nanoTime; one clock
  for every process of the machine). It is checked against what the harness sees: it cannot
  lie before the group turned Stable. Runners that report none start at the group turning
  Stable (or the first output, if earlier);
- `t_done`: when the output topic (read_committed) holds the complete expected answer (W1: every
  kept record; W2/W3: every key's final count).

outside rate = (N - first_count) / (t_done - start), `first_count` being the records the runner
had processed by its first observation (before the start, so in neither window). Both timings
thus cover the same records from the same start; the in-process one ends when the runner's
last commit returns, the outside one when the last output is visible to a reader. They differ
by the reader's own lag, and under at_least_once by the offsets' commit after the producer's
flush (the outputs are visible before it ends). The harness prints both and flags a gap over
10 %, with `tail_s`, the time from the runner's last record (`last_mono`) to the complete
output: the final flush at close (for cached W2/W3 at a 30 s commit interval it writes nearly
all outputs), which until this session only the outside timing counted (`processing_rate`
keeps the old in-process figure, ending at the last record).

Why not the group turning Stable, as before: between Stable and the first record a framework
still creates its tasks, opens its stores and (exactly_once) starts its transactional
producers; Kafka Streams spends 0.5-1 s there, which no steady-state rate includes, and which
made the outside figure read 10-55 % low on runs of 1-3 s. `outside_from_stable_s` keeps
that longer span for reference.

The reader counts W1's outputs without decoding them (the full check reads the topic again
after the run): decoding 200,000 JSON values in the harness took CPU from the measured
process on 2 cores and let the reader fall behind the end.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson

POLL_S = 0.05


class Progress:
    """Incremental check of an output stream against the expected answer, cheap enough to
    keep up with the measured process on a shared machine: W1's outputs are only counted
    (the sum of ids is checked after the run); a W2/W3 count is compared as bytes (its JSON
    is its digits), not decoded, so the reader does not fall behind a final flush that writes
    every key at once (decoding W3's updates made it see the end up to 0.5 s late)."""

    def __init__(self, workload: str, want: Any) -> None:
        self.workload, self.want = workload, want
        self.count = 0
        self.want_bytes: dict[bytes, bytes] = (
            {} if workload == "W1" else {k.encode(): str(c).encode() for k, c in want.items()}
        )
        self.final: dict[bytes, bool] = {}  # key -> whether its latest value is the answer
        self.matching = 0

    def add(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        if self.workload == "W1":
            self.count += 1
            return
        if key is None:
            return
        if value[:1] == b"{":  # quixstreams' window result: {"start", "end", "value"}
            v = orjson.loads(value)
            key, value = b"%s@%d" % (key, v["start"]), str(v["value"]).encode()
        ok = value == self.want_bytes.get(key)
        was = self.final.get(key, False)
        if ok != was:
            self.matching += 1 if ok else -1
            self.final[key] = ok

    def complete(self) -> bool:
        if self.workload == "W1":
            return bool(self.count >= self.want[0])
        return self.matching == len(self.want_bytes)


class OutsideTimer(threading.Thread):
    """A thread reading one output topic beside the measured process(es) until `progress`
    is complete; `t_first_output` / `t_done` are stamped by `take`. Subclasses read Kafka
    (DrainTimer) or the embedded log (bench/workers.py's EmbeddedDrain) in `_watch`."""

    def __init__(self, topic: str, progress: Any, n: int, timeout_s: float) -> None:
        super().__init__(daemon=True)
        self.topic, self.progress, self.n, self.timeout_s = topic, progress, n, timeout_s
        self.t_spawn = time.monotonic()
        self.t_first_output: float | None = None
        self.t_done: float | None = None
        self.stop_flag = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._watch())
        except Exception as exc:  # noqa: BLE001 -- reported beside the figure, never a crash
            self.error = repr(exc)

    async def _watch(self) -> None:
        raise NotImplementedError


class DrainTimer(OutsideTimer):
    """Runs beside one child process on Kafka; `result()` gives the outside timing."""

    def __init__(
        self,
        bootstrap: str,
        group: str,
        topic: str,
        workload: str,
        want: Any,
        n: int,
        timeout_s: float,
    ) -> None:
        super().__init__(topic, Progress(workload, want), n, timeout_s)
        self.bootstrap, self.group = bootstrap, group
        self.t_stable: float | None = None

    async def _group_stable(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            while self.t_stable is None and not self.stop_flag.is_set():
                try:
                    for resp in await admin.describe_consumer_groups([self.group]):
                        for g in resp.groups:
                            if g[2] == "Stable":
                                self.t_stable = time.monotonic()
                except Exception:  # noqa: BLE001 -- coordinator not ready yet: ask again
                    pass
                await asyncio.sleep(POLL_S)
        finally:
            await admin.close()

    async def _watch(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        stable = asyncio.ensure_future(self._group_stable())
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=10,
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 << 20,
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(self.topic, p) for p in range(4)])
            deadline = self.t_spawn + self.timeout_s
            while not self.stop_flag.is_set() and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=100, max_records=50_000)
                take(self, batch)
                if self.t_done is not None:
                    break
        finally:
            self.stop_flag.set()
            await stable
            await consumer.stop()

    def result(self, runner: dict[str, Any] | None = None) -> dict[str, Any]:
        """The outside figure. From the runner's result (`runner`, see bench/runner_io.py):
        `first_mono` / `last_mono`, its first and last processed record on CLOCK_MONOTONIC
        (see the module docstring), `first_count`, the records it had processed by
        `first_mono` (not part of the timed span, so not counted), and `flushed_mono`, the end
        of its last commit. `tail_s`: from the last record processed to the complete output;
        `seen_after_s`: from the runner's last commit to the complete output (ALOS outputs are
        visible before the offsets' commit ends, so it can be negative)."""
        runner = runner or {}
        first_mono, last_mono = runner.get("first_mono"), runner.get("last_mono")
        flushed_mono = runner.get("flushed_mono")
        n = self.n
        starts = [t for t in (self.t_stable, self.t_first_output) if t is not None]
        out: dict[str, Any] = {"outside_error": self.error}
        if self.t_done is None or not starts:
            out["outside_rate"] = None
            if self.error is None:
                out["outside_error"] = "the output never held the complete answer"
            return out
        start, label = min(starts), "group stable"
        if start != self.t_stable:
            label = "first output"
        if first_mono is not None and self.t_spawn < first_mono < self.t_done:
            if self.t_stable is not None and first_mono < self.t_stable:
                out["outside_error"] = "the runner's first record came before the group was Stable"
            start, label = first_mono, "first record processed"
            n -= int(runner.get("first_count") or 0)
        out.update(
            outside_rate=n / (self.t_done - start) if self.t_done > start else None,
            outside_s=self.t_done - start,
            outside_from_spawn_s=self.t_done - self.t_spawn,
            outside_from_stable_s=(self.t_done - self.t_stable) if self.t_stable else None,
            outside_start=label,
            tail_s=(self.t_done - last_mono) if last_mono is not None else None,
            seen_after_s=(self.t_done - flushed_mono) if flushed_mono is not None else None,
        )
        return out


def take(watcher: Any, batch: dict[Any, Any]) -> bool:
    """Feed one fetched batch to a watcher's `progress` and stamp its `t_first_output` and
    `t_done` (the one place both outside timers, Kafka's and the embedded log's, do it).
    True when the batch held records."""
    got = False
    for records in batch.values():
        for r in records:
            got = True
            watcher.progress.add(r.key, r.value)
    if got and watcher.t_first_output is None:
        watcher.t_first_output = time.monotonic()
    if got and watcher.progress.complete():
        watcher.t_done = time.monotonic()
    return got


def cross_check(result: dict[str, Any]) -> str:
    """'ok' when the in-process and the outside rate agree within 10 %, else the gap."""
    inside, outside = result.get("rate"), result.get("outside_rate")
    if not inside or not outside:
        return "no outside figure"
    gap = (inside - outside) / outside
    if abs(gap) <= 0.10:
        return "ok"
    tail = result.get("tail_s")
    # what the gap is made of: the output completes this long after the last record
    return f"gap {gap:+.0%}" + (f", tail {tail:.1f} s" if tail is not None else "")
