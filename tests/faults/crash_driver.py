"""The crash driver: feed orders in chunks and SIGKILL the worker at seeded random moments.

Each cycle produces a chunk, starts `streamz-kit run crash_app.py` and kills it in one of
three ways, chosen by a seeded generator:
- `external`: SIGKILL from outside after a random delay (lands anywhere: start-up,
  restoration, processing, commit);
- `commit`: the worker is asked (streamz_kit.faults) to kill itself at a random
  numbered commit step; if the runtime does not call that point in time, the driver kills it
  from outside as a fallback;
- `restore`: the local state directory is wiped first (a lost disk), so the worker restores
  every store from its changelog, and it is asked to kill itself in the middle of restoring
  (with the same fallback).
A worker that dies by the hook writes the point's name to its log, so the figures can say
where the kills landed. The last run has no fault and runs until every input and
repartition topic is fully committed.
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

from streamz_kit.errors import InvalidStateStoreError
from streamz_kit.faults import MARKER
from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicPartition
from tests.faults import model
from tests.runtime.e2e import Worker, produce, read_all, run

APP = Path(__file__).parent / "apps" / "crash_app.py"
REPO = Path(__file__).resolve().parents[2]
APPLICATION_ID = "crash"
PARTITIONS = 3
COMMIT_POINTS = (
    "commit:after_drain",
    "commit:after_produce",
    "commit:after_flush",
    "commit:after_commit",
    "commit:after_apply",
)
RESTORE_POINTS = ("restore:start@0.5", "restore:batch@0.7")
STARTUP_WAIT_S = 30.0  # how long a hook-mode run may take to get its tasks


@dataclass
class CrashReport:
    guarantee: str
    seed: int
    records: int
    kills: int = 0
    modes: Counter[str] = field(default_factory=Counter)
    hook_points: Counter[str] = field(default_factory=Counter)
    killed_before_running: int = 0
    kills_with_pending_work: int = 0
    wipes: int = 0
    seconds: float = 0.0
    enriched_records: int = 0
    lost: int = 0
    duplicates: int = 0
    joined_lost: int = 0
    joined_duplicates: int = 0

    def summary(self) -> str:
        return (
            f"[{self.guarantee}] seed={self.seed} records={self.records} kills={self.kills} "
            f"modes={dict(self.modes)} hook_kills={dict(self.hook_points)} "
            f"killed_before_tasks_ran={self.killed_before_running} "
            f"killed_with_work_in_flight={self.kills_with_pending_work} state_wipes={self.wipes} "
            f"outputs={self.enriched_records} lost={self.lost} duplicates={self.duplicates} "
            f"joined_lost={self.joined_lost} joined_duplicates={self.joined_duplicates} "
            f"in {self.seconds:.1f} s"
        )


class CrashDriver:
    def __init__(self, tmp: Path, guarantee: str, *, records: int, kills: int, seed: int) -> None:
        self.tmp = tmp
        self.guarantee = guarantee
        self.records = records
        self.kill_target = kills
        self.rng = random.Random(seed)
        self.broker = f"embedded://{tmp / 'log'}"
        self.state_dir = tmp / "log" / "state" / APPLICATION_ID
        self.report = CrashReport(guarantee, seed, records)
        self.produced = 0
        self.env = {
            "CRASH_BROKER": self.broker,
            "CRASH_GUARANTEE": guarantee,
            "CRASH_COMMIT_MS": "200",
            "PYTHONPATH": str(REPO),
        }

    # -- feeding ---------------------------------------------------------------------------
    def produce_upto(self, target: int) -> None:
        target = min(target, self.records)
        if target > self.produced:
            run(
                produce(
                    self.broker,
                    "orders",
                    model.orders(self.produced, target - self.produced),
                    partitions=PARTITIONS,
                )
            )
            self.produced = target

    # -- one killed run --------------------------------------------------------------------
    def _fault_env(self, mode: str, cycle: int) -> dict[str, str]:
        if mode == "commit":
            point = self.rng.choice(COMMIT_POINTS)
            return {
                "STREAMZ_FAULT_KILL_POINT": f"{point}@0.08",
                "STREAMZ_FAULT_SEED": str(self.rng.getrandbits(32)),
            }
        if mode == "restore":
            return {
                "STREAMZ_FAULT_KILL_POINT": self.rng.choice(RESTORE_POINTS),
                "STREAMZ_FAULT_SEED": str(self.rng.getrandbits(32)),
            }
        return {}

    def killed_run(self, cycle: int) -> None:
        mode = self.rng.choices(["external", "commit", "restore"], [4, 3, 3])[0]
        if mode == "restore" and self.state_dir.exists():
            shutil.rmtree(self.state_dir)
            self.report.wipes += 1
        env = {**self.env, **self._fault_env(mode, cycle)}
        log_path = self.tmp / f"run{cycle:03d}-{mode}.log"
        worker = Worker(str(APP), env, log_path)
        # The chunk is fed while the worker runs, in small pieces, so it is busy (fetching,
        # processing, committing) rather than idle whenever the kill lands.
        chunk = self.records // (self.kill_target + 1)
        goal = min(self.produced + chunk, self.records)
        piece = max(chunk // 12, 1)
        delay = {
            "external": self.rng.uniform(0.8, 2.4),
            "commit": self.rng.uniform(1.5, 3.0),
            "restore": self.rng.uniform(0.7, 1.6),
        }[mode]
        # A hook mode's kill is the hook's own, at the point it drew, once tasks run. On a
        # loaded machine start-up alone can outlast the random delay, so these modes start
        # their clock when the worker has its tasks (or died at a restore hook), not at spawn.
        if mode != "external":
            started = time.monotonic() + STARTUP_WAIT_S
            while (
                time.monotonic() < started and worker.alive() and "Assigned" not in worker.output()
            ):
                time.sleep(0.05)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and worker.alive():
            if self.produced < goal:
                self.produce_upto(self.produced + piece)
            time.sleep(0.05)
        if worker.alive() and run(_lag(self.broker)) > 0:
            self.report.kills_with_pending_work += 1
        code = worker.stop(signal.SIGKILL)
        output = worker.output()
        if code != -signal.SIGKILL:
            raise AssertionError(
                f"run {cycle} ({mode}) ended with {code}, not by SIGKILL:\n{output[-3000:]}"
            )
        self.report.kills += 1
        self.report.modes[mode] += 1
        hooked = [
            line[len(MARKER) :].strip() for line in output.splitlines() if line.startswith(MARKER)
        ]
        for point in hooked:
            self.report.hook_points[point] += 1
        if "Assigned" not in output:
            self.report.killed_before_running += 1
        self.produce_upto(goal)

    # -- the whole scenario ----------------------------------------------------------------
    def load_profiles(self) -> None:
        """The join's table side, fully processed before the first order (so each order
        joins the same profile however the crashes fall)."""
        run(produce(self.broker, "profiles", model.profiles(), partitions=PARTITIONS))
        run(produce(self.broker, "orders", [], partitions=PARTITIONS))
        worker = Worker(str(APP), self.env, self.tmp / "profiles.log")
        try:
            wait_caught_up(self.broker, worker, timeout=60)
        finally:
            code = worker.stop(signal.SIGTERM, timeout=60)
        assert code == 0, worker.output()[-3000:]

    def run(self) -> CrashReport:
        started = time.monotonic()
        self.load_profiles()
        for cycle in range(self.kill_target):
            self.killed_run(cycle)
        self.produce_upto(self.records)
        worker = Worker(str(APP), self.env, self.tmp / "final.log")
        try:
            wait_caught_up(self.broker, worker, timeout=max(120.0, self.records / 1000))
        finally:
            code = worker.stop(signal.SIGTERM, timeout=60)
        assert code == 0, worker.output()[-3000:]
        self.report.seconds = time.monotonic() - started
        return self.report


# -- reading the results ------------------------------------------------------------------
async def _lag(broker: str) -> int:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        names = [
            t
            for t in await admin.list_topics()
            if t in ("orders", "profiles")
            or (t.startswith(f"{APPLICATION_ID}-") and t.endswith("-repartition"))
        ]
        counts = await admin.partition_counts(names)
        tps = [TopicPartition(t, p) for t in names for p in range(counts[t])]
        ends = await admin.list_offsets(tps, "latest")
        committed = await admin.committed_offsets(APPLICATION_ID, tps)
        return sum(ends[tp] - committed.get(tp, 0) for tp in tps)
    finally:
        await transport.close()


def wait_caught_up(broker: str, worker: Worker, timeout: float) -> None:
    """Until the worker runs its tasks and the input and every repartition topic is
    committed to its end, twice in a row."""
    deadline = time.monotonic() + timeout
    while "Assigned" not in worker.output():
        if not worker.alive() or time.monotonic() > deadline:
            raise AssertionError(f"worker never started its tasks:\n{worker.output()[-3000:]}")
        time.sleep(0.05)
    quiet = 0
    while time.monotonic() < deadline:
        if not worker.alive():
            raise AssertionError(f"final worker exited early:\n{worker.output()[-3000:]}")
        quiet = quiet + 1 if run(_lag(broker)) == 0 else 0
        if quiet >= 2:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"final worker did not catch up in {timeout:.0f} s (lag "
        f"{run(_lag(broker))}):\n{worker.output()[-3000:]}"
    )


def enriched(broker: str) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for key, value in run(read_all(broker, "enriched")):
        assert key is not None and value is not None
        v = orjson.loads(value)
        out[(key.decode(), v["seq"], v["user"], v["region"], v["amount"])] += 1
    return out


def expected_enriched(n: int) -> Counter[tuple[Any, ...]]:
    out: Counter[tuple[Any, ...]] = Counter()
    for seq in range(n):
        _, v = model.order(seq)
        e = model.enrich(v)
        out[(e["user"], e["seq"], e["user"], e["region"], e["amount"])] += 1
    return out


def joined(broker: str) -> Counter[tuple[str, int, str]]:
    out: Counter[tuple[str, int, str]] = Counter()
    for key, value in run(read_all(broker, "joined")):
        assert key is not None and value is not None
        v = orjson.loads(value)
        out[(key.decode(), v["seq"], v["tier"])] += 1
    return out


def last_values(broker: str, topic: str, skip: int = 0) -> dict[str, Any]:
    """The table a topic of updates (or a changelog) ends as: last value per key.

    `skip` drops a value prefix: timestamped stores log an 8-byte timestamp before the value.
    """
    table: dict[str, Any] = {}
    for key, value in run(read_all(broker, topic)):
        assert key is not None
        if value is None:
            table.pop(key.decode(), None)
        else:
            table[key.decode()] = orjson.loads(value[skip:])
    return table


async def _store_contents(broker: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """Start the app in this process, read its local stores, stop it (no new input)."""
    from streamz_kit.loader import load_app

    app = load_app(str(APP))
    app.configure(broker=broker)
    await app.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if len(app.metrics().get("tasks", [])) == PARTITIONS * 3:
                    return {name: dict(app.store(name).all()) for name in names}
            except InvalidStateStoreError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the in-process app never ran its tasks: {app.metrics()}")
            await asyncio.sleep(0.05)
    finally:
        await app.stop()


def store_contents(broker: str, names: list[str]) -> dict[str, dict[str, Any]]:
    return asyncio.run(_store_contents(broker, names))
