"""Crash injection on real Kafka: several workers of one app, SIGKILLed at seeded moments.

While 2-3 worker processes of apps/eos_app.py (repartition, stream-table join, aggregation,
table re-aggregation) run as one consumer group, orders are fed in small pieces and a seeded
generator kills one worker at a time, in one of three ways:
- `external`: SIGKILL from outside (lands anywhere: start-up, rebalance, processing, commit);
- `commit`: the worker was started with the fault hook (streamz_kit.faults) and
  kills itself at a random commit step (between produce and commit, after the commit...);
- `wipe`: SIGKILL, and the slot's state directory is deleted (a lost disk), so its next
  process restores every store it gets from the changelogs; the hook may kill that one in
  the middle of the restore.
Each killed slot is restarted at once. Some slots are static members (group_instance_id):
a restart takes its partitions straight back. The others are dynamic: their partitions
move after the session timeout. At the end every slot runs, the driver waits until the
outputs are complete (or a deadline), stops the workers and reads every output with a
read_committed consumer.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streamz_kit.faults import MARKER
from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicPartition, TopicSpec
from tests.faults import model
from tests.kafka_runtime.helpers import Worker
from tests.runtime.e2e import produce

APP = str(Path(__file__).parent / "apps" / "eos_app.py")
REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 4
COMMIT_POINTS = (
    "commit:after_drain",
    "commit:after_produce",
    "commit:after_commit",
    "commit:after_apply",
)


@dataclass
class KafkaCrashReport:
    guarantee: str
    seed: int
    records: int
    workers: int
    kills: int = 0
    modes: Counter[str] = field(default_factory=Counter)
    hook_points: Counter[str] = field(default_factory=Counter)
    restarts: int = 0
    seconds: float = 0.0
    outputs: int = 0
    lost: int = 0
    duplicates: int = 0
    joined_lost: int = 0
    joined_duplicates: int = 0
    totals_exact: bool = False
    fenced_lines: int = 0

    def summary(self) -> str:
        return (
            f"[kafka {self.guarantee}] seed={self.seed} workers={self.workers} "
            f"records={self.records} kills={self.kills} modes={dict(self.modes)} "
            f"hook_kills={dict(self.hook_points)} restarts={self.restarts} "
            f"outputs={self.outputs} lost={self.lost} duplicated={self.duplicates} "
            f"joined_lost={self.joined_lost} joined_duplicated={self.joined_duplicates} "
            f"totals_exact={self.totals_exact} fenced_log_lines={self.fenced_lines} "
            f"in {self.seconds:.1f} s"
        )


class KafkaCrashDriver:
    def __init__(
        self,
        broker: str,
        tmp: Path,
        *,
        guarantee: str,
        records: int,
        kills: int,
        workers: int,
        seed: int,
        static_slots: int = 1,
    ) -> None:
        self.broker = broker
        self.tmp = tmp
        self.guarantee = guarantee
        self.records = records
        self.kill_target = kills
        self.rng = random.Random(seed)
        self.prefix = f"ke{seed}x{random.Random().getrandbits(32):08x}"
        self.report = KafkaCrashReport(guarantee, seed, records, workers)
        self.slots: list[Worker | None] = [None] * workers
        self.static_slots = static_slots
        self.runs = 0
        self.produced = 0
        self.logs: list[Path] = []
        self.hooked: set[int] = set()
        self.slot_env: dict[int, dict[str, str]] = {}

    # -- workers ---------------------------------------------------------------------------
    def _state(self, slot: int) -> Path:
        return self.tmp / f"state{slot}"

    def _start(self, slot: int, fault: dict[str, str] | None = None) -> None:
        env = {
            "KE_PREFIX": self.prefix,
            "KE_BROKER": self.broker,
            "KE_GUARANTEE": self.guarantee,
            "KR_STATE_DIR": str(self._state(slot)),
            "PYTHONPATH": str(REPO),
            **self.slot_env.get(slot, {}),
            **(fault or {}),
        }
        if slot < self.static_slots:
            env["KE_INSTANCE_ID"] = f"{self.prefix}-w{slot}"
        if fault:
            self.hooked.add(slot)
        else:
            self.hooked.discard(slot)
        self.runs += 1
        log = self.tmp / f"w{slot}-run{self.runs:03d}.log"
        self.logs.append(log)
        self.slots[slot] = Worker(APP, self.broker, env, log)

    def _fault(self, mode: str) -> dict[str, str]:
        seed = str(self.rng.getrandbits(32))
        if mode == "commit":
            point = self.rng.choice(COMMIT_POINTS)
            return {
                "STREAMZ_FAULT_KILL_POINT": f"{point}@{self.rng.uniform(0.03, 0.15):.3f}",
                "STREAMZ_FAULT_SEED": seed,
            }
        if mode == "wipe":
            return {"STREAMZ_FAULT_KILL_POINT": "restore:batch@0.3", "STREAMZ_FAULT_SEED": seed}
        return {}

    def _reap(self) -> None:
        """Count workers that killed themselves through the hook, and restart them."""
        for slot, worker in enumerate(self.slots):
            if worker is None or worker.alive():
                continue
            code = worker.stop(signal.SIGKILL, timeout=5)
            out = worker.output()
            points = [
                line[len(MARKER) :].strip() for line in out.splitlines() if line.startswith(MARKER)
            ]
            if code != -signal.SIGKILL:
                raise AssertionError(
                    f"worker {slot} exited with {code}, not by a kill:\n{out[-3000:]}"
                )
            self.report.kills += 1
            self.report.modes["hook"] += 1
            for point in points:
                self.report.hook_points[point] += 1
            self._start(slot)
            self.report.restarts += 1

    def _kill_one(self) -> None:
        alive = [s for s, w in enumerate(self.slots) if w is not None and w.alive()]
        if not alive:
            return
        slot = self.rng.choice(alive)
        mode = self.rng.choices(["external", "commit", "wipe"], [5, 3, 2])[0]
        worker = self.slots[slot]
        assert worker is not None
        code = worker.stop(signal.SIGKILL, timeout=10)
        if code != -signal.SIGKILL:
            raise AssertionError(
                f"worker {slot} had exited with {code} before its kill:\n{worker.output()[-3000:]}"
            )
        self.report.kills += 1
        self.report.modes[mode] += 1
        if mode == "wipe":
            shutil.rmtree(self._state(slot), ignore_errors=True)
        self._start(slot, self._fault(mode))
        self.report.restarts += 1

    # -- feeding ---------------------------------------------------------------------------
    def produce_upto(self, target: int) -> None:
        target = min(target, self.records)
        if target > self.produced:
            asyncio.run(
                produce(
                    self.broker,
                    f"{self.prefix}-orders",
                    model.orders(self.produced, target - self.produced),
                    PARTITIONS,
                )
            )
            self.produced = target

    async def _create_inputs(self) -> None:
        transport = connect(self.broker)
        await transport.start()
        try:
            await transport.admin().create_topics(
                [
                    TopicSpec(f"{self.prefix}-orders", PARTITIONS),
                    TopicSpec(f"{self.prefix}-profiles", PARTITIONS),
                ]
            )
        finally:
            await transport.close()

    async def _profiles_loaded(self) -> bool:
        transport = connect(self.broker)
        await transport.start()
        try:
            admin = transport.admin()
            tps = [TopicPartition(f"{self.prefix}-profiles", p) for p in range(PARTITIONS)]
            ends = await admin.list_offsets(tps, "latest")
            committed = await admin.committed_offsets(self.prefix, tps)
            return all(committed.get(tp, 0) >= ends[tp] for tp in tps)
        finally:
            await transport.close()

    # -- the scenario ----------------------------------------------------------------------
    def run(self, *, max_seconds: float = 240.0) -> KafkaCrashReport:
        started = time.monotonic()
        self.setup()
        chunk = self.records / (self.kill_target + 1)
        next_kill = time.monotonic() + self.rng.uniform(0.8, 2.5)
        while self.report.kills < self.kill_target:
            self._assert_time(started + max_seconds, f"{self.kill_target} kills")
            goal = min(int(chunk * (self.report.kills + 1)), self.records)
            if self.produced < goal:
                self.produce_upto(self.produced + max(int(chunk // 6), 1))
            self._reap()
            if time.monotonic() >= next_kill and self.report.kills < self.kill_target:
                self._kill_one()
                next_kill = time.monotonic() + self.rng.uniform(0.8, 2.5)
            time.sleep(0.1)
        self._reap()
        self.produce_upto(self.records)
        self.report.seconds = time.monotonic() - started
        return self.report

    def setup(self) -> None:
        """Create the inputs, start every slot, and wait until the profiles are loaded."""
        asyncio.run(self._create_inputs())
        asyncio.run(produce(self.broker, f"{self.prefix}-profiles", model.profiles(), PARTITIONS))
        for slot in range(len(self.slots)):
            self._start(slot)
        # The join's table side is processed before any order, so every order joins the same
        # profile however the kills fall (as in the embedded crash suite).
        deadline = time.monotonic() + 90
        while not asyncio.run(self._profiles_loaded()):
            self._assert_time(deadline, "the profiles table to load")
            time.sleep(0.3)

    def _assert_time(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{self.tail_logs()}")

    def finish(self, *, timeout: float = 120.0) -> None:
        """Run every slot without faults until the outputs are complete, then stop them."""
        self._reap()
        for slot in sorted(self.hooked):  # may still kill itself: one last kill, no hook
            worker = self.slots[slot]
            assert worker is not None
            worker.stop(signal.SIGKILL, timeout=10)
            self.report.kills += 1
            self.report.modes["external"] += 1
            self._start(slot)
        ref = model.Reference(self.records)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._reap()
            if (
                self.last_values("user-totals-out") == ref.user_totals
                and self.last_values("region-totals-out") == ref.region_totals
            ):
                break
            time.sleep(1.0)
        self.stop()

    def stop(self) -> None:
        for worker in self.slots:
            if worker is not None and worker.alive():
                worker.stop(signal.SIGTERM, timeout=60)

    def tail_logs(self, n: int = 3) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2500:]}" for p in self.logs[-n:]
        )

    # -- reading ---------------------------------------------------------------------------
    def read(self, name: str) -> list[tuple[bytes | None, bytes | None]]:
        return asyncio.run(read_committed(self.broker, f"{self.prefix}-{name}"))

    def last_values(self, name: str, skip: int = 0) -> dict[str, Any]:
        table: dict[str, Any] = {}
        for key, value in self.read(name):
            assert key is not None
            if value is None:
                table.pop(key.decode(), None)
            else:
                table[key.decode()] = orjson.loads(value[skip:])
        return table

    def check(self) -> KafkaCrashReport:
        """Fill in lost / duplicated / exact totals from the read_committed outputs."""
        report = self.report
        ref = model.Reference(self.records)
        got: Counter[tuple[Any, ...]] = Counter()
        for key, value in self.read("enriched"):
            assert key is not None and value is not None
            v = orjson.loads(value)
            got[(key.decode(), v["seq"], v["region"], v["amount"])] += 1
        want: Counter[tuple[Any, ...]] = Counter()
        for seq in range(self.records):
            e = model.enrich(model.order(seq)[1])
            want[(e["user"], e["seq"], e["region"], e["amount"])] += 1
        report.outputs = sum(got.values())
        report.lost = sum((want - got).values())
        report.duplicates = sum((got - want).values())
        joined: Counter[tuple[str, int, str]] = Counter()
        for key, value in self.read("joined"):
            assert key is not None and value is not None
            v = orjson.loads(value)
            joined[(key.decode(), v["seq"], v["tier"])] += 1
        report.joined_lost = sum((ref.joined - joined).values())
        report.joined_duplicates = sum((joined - ref.joined).values())
        report.totals_exact = (
            self.last_values("user-totals-out") == ref.user_totals
            and self.last_values("region-totals-out") == ref.region_totals
            and self.last_values("user-totals-changelog", 8) == ref.user_totals
            and self.last_values("region-totals-changelog", 8) == ref.region_totals
        )
        report.fenced_lines = sum(
            p.read_text(errors="replace").count("fenced") for p in self.logs if p.exists()
        )
        return report


async def read_committed(broker: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every committed record of TOPIC (read_committed), until each partition's position
    reaches the end offset seen at the start, or fetches keep coming back empty (the end
    can be a transaction marker the position never lands on)."""
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        counts = await admin.partition_counts([topic])
        if topic not in counts:
            return []
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        ends = await admin.list_offsets(tps, "latest")
        consumer = transport.consumer(group_id=None, read_committed=True)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: list[tuple[bytes | None, bytes | None]] = []
        empty = 0
        while empty < 3:
            batch = await consumer.poll(timeout_ms=300, max_records=50_000)
            if not any(batch.values()):
                empty += 1
                if all(consumer.position(tp) >= ends[tp] for tp in tps):
                    break
                continue
            empty = 0
            for records in batch.values():
                out.extend((r.key, r.value) for r in records)
        await consumer.close()
        return out
    finally:
        await transport.close()
