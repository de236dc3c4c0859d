"""How long do partitions that do NOT move stop processing when a worker joins or leaves?

Three workers of bench/apps/pause_app.py (a count per key plus one timestamped output per
input record) process a steady stream: every TICK_MS one record per input partition. Then a
fourth worker is added and removed again, REBALANCES times in all (SIGTERM: a clean leave).
From the outputs, per input partition, the benchmark finds the longest gap between processed
records around each rebalance, and whether the partition changed worker; it prints p50 /
p99 / max of the gaps of partitions that stayed put and of those that moved, and the state
records restored (from the workers' "Restored tasks" lines).

    .venv/bin/python bench/rebalance_pause.py [--bootstrap HOST:PORT] [--rebalances 10]
        [--protocol eager|cooperative]

Without --bootstrap it starts a private Kafka broker (interop/kafka_broker.py).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streamz_kit.transport import connect  # noqa: E402
from streamz_kit.transport.partitioner import default_partition  # noqa: E402
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec  # noqa: E402

APP = REPO / "bench" / "apps" / "pause_app.py"


class Worker:
    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamz_kit",
                "run",
                str(APP),
                "--log-level",
                "INFO",
                "--state-dir",
                env["RP_STATE_DIR"],
            ],
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()

    def tasks(self) -> list[str]:
        found = re.findall(r"running tasks \[([^\]]*)\]", self.output())
        return [t.strip().strip("'") for t in found[-1].split(",") if t.strip()] if found else []


async def _ticker(
    broker: str, topic: str, partitions: int, tick_ms: int, stop: asyncio.Event
) -> None:
    """One record per partition every tick, keys chosen so each lands on its partition."""
    keys: dict[int, bytes] = {}
    i = 0
    while len(keys) < partitions:
        k = f"k{i}".encode()
        keys.setdefault(default_partition(k, partitions), k)
        i += 1
    transport = connect(broker)
    await transport.start()
    producer = transport.producer()
    seq = 0
    try:
        while not stop.is_set():
            now = int(time.time() * 1000)
            for p, k in keys.items():
                producer.send(ProducerRecord(topic, p, k, orjson.dumps({"p": p, "seq": seq}), now))
            seq += 1
            await producer.flush()
            await asyncio.sleep(tick_ms / 1000)
    finally:
        await producer.close()
        await transport.close()


async def _read(broker: str, topic: str) -> list[dict[str, Any]]:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        counts = await admin.partition_counts([topic])
        tps = [TopicPartition(topic, p) for p in range(counts.get(topic, 0))]
        consumer = transport.consumer(group_id=None)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: list[dict[str, Any]] = []
        empty = 0
        while empty < 3:
            batch = await consumer.poll(500, max_records=100_000)
            if not any(batch.values()):
                empty += 1
            for records in batch.values():
                out.extend(orjson.loads(r.value) for r in records if r.value)
        await consumer.close()
        return out
    finally:
        await transport.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def analyse(
    stamps: list[dict[str, Any]], events: list[tuple[str, float]], tick_ms: int, settle_s: float
) -> dict[str, Any]:
    by_p: dict[int, list[dict[str, Any]]] = {}
    for s in stamps:
        by_p.setdefault(s["p"], []).append(s)
    stayed: list[float] = []
    moved: list[float] = []
    per_event: list[tuple[str, float, float, int, int]] = []
    for kind, at in events:
        ev_stayed, ev_moved = [], []
        for recs in by_p.values():
            recs.sort(key=lambda s: s["seq"])
            before = [s for s in recs if s["at"] < at]
            after = [s for s in recs if at <= s["at"] < at + settle_s]
            if not before or not after:
                continue
            # the longest wait between two processed records from just before the change
            window = [before[-1]] + after
            gap = max(b["at"] - a["at"] for a, b in itertools.pairwise(window))
            target = ev_moved if before[-1]["w"] != after[-1]["w"] else ev_stayed
            target.append(gap * 1000)
        if kind != "none":  # the control window is reported on its own
            stayed += ev_stayed
            moved += ev_moved
        per_event.append(
            (
                kind,
                max(ev_stayed, default=0),
                max(ev_moved, default=0),
                len(ev_stayed),
                len(ev_moved),
            )
        )
    return {"stayed": stayed, "moved": moved, "per_event": per_event, "tick_ms": tick_ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default="")
    ap.add_argument("--rebalances", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--tick-ms", type=int, default=50)
    ap.add_argument("--hold-s", type=float, default=10.0, help="time between rebalances")
    ap.add_argument("--guarantee", default="at_least_once")
    ap.add_argument(
        "--protocol",
        default="eager",
        choices=("eager", "cooperative"),
        help="the workers' rebalance_protocol",
    )
    args = ap.parse_args()

    broker_proc = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        from interop.kafka_broker import KafkaBroker

        broker_proc = KafkaBroker()
        bootstrap = broker_proc.start()
    broker = f"kafka://{bootstrap}"
    tmp = Path(tempfile.mkdtemp(prefix="rebalance-pause-"))
    prefix = f"rp{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        transport = connect(broker)
        await transport.start()
        await transport.admin().create_topics([TopicSpec(f"{prefix}-ticks", args.partitions)])
        await transport.close()

    asyncio.run(create())
    env = {
        "RP_PREFIX": prefix,
        "RP_BROKER": broker,
        "RP_GUARANTEE": args.guarantee,
        "RP_PROTOCOL": args.protocol,
    }
    workers: list[Worker] = []

    def start(name: str) -> Worker:
        w = Worker(name, {**env, "RP_STATE_DIR": str(tmp / name)}, tmp / f"{name}.log")
        workers.append(w)
        return w

    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    ticker = loop.create_task(
        _ticker(broker, f"{prefix}-ticks", args.partitions, args.tick_ms, stop)
    )
    events: list[tuple[str, float]] = []

    def wait(seconds: float) -> None:
        loop.run_until_complete(asyncio.sleep(seconds))

    try:
        base = [start(f"w{i}") for i in range(3)]
        deadline = time.monotonic() + 120
        while not all(w.tasks() for w in base) or sum(len(w.tasks()) for w in base) < (
            args.partitions
        ):
            if time.monotonic() > deadline:
                raise SystemExit(
                    "the three workers never shared the tasks:\n" + base[-1].output()[-2000:]
                )
            wait(0.5)
        # A control window without any membership change: the pause a partition sees anyway.
        wait(args.hold_s)
        events.append(("none", time.time()))
        wait(args.hold_s)
        extra: Worker | None = None
        for i in range(args.rebalances):
            if extra is None:
                events.append(("add", time.time()))
                extra = start(f"x{i}")
            else:
                events.append(("remove", time.time()))
                extra.stop(signal.SIGTERM)
                extra = None
            wait(args.hold_s)
        if extra is not None:
            extra.stop(signal.SIGTERM)
        wait(2.0)
    finally:
        stop.set()
        loop.run_until_complete(ticker)
        loop.close()
        for w in workers:
            w.stop(signal.SIGTERM)
    stamps = asyncio.run(_read(broker, f"{prefix}-stamps"))
    result = analyse(stamps, events, args.tick_ms, settle_s=args.hold_s - 0.5)
    restored = [
        int(n)
        for w in workers
        for n in re.findall(r"Restored tasks .*?: (\d+) changelog records", w.output())
    ]
    revokes = sum(w.output().count("Revoked") for w in workers)
    base = [k for k in result["per_event"] if k[0] == "none"]
    result["per_event"] = [k for k in result["per_event"] if k[0] != "none"]
    st, mv = result["stayed"], result["moved"]
    print(
        f"rebalance pause on Kafka ({len(result['per_event'])} rebalances, {args.partitions} partitions, "
        f"3-4 workers, a record per partition every {args.tick_ms} ms, {args.guarantee}, "
        f"{args.protocol} rebalancing)"
    )
    if base:
        print(
            f"  control window, no rebalance: longest gap {base[0][1]:.0f} ms "
            f"over {base[0][3]} partitions"
        )
    print(
        f"  partitions that stayed: n={len(st)} p50={_pct(st, 0.5):.0f} ms "
        f"p99={_pct(st, 0.99):.0f} ms max={max(st, default=0):.0f} ms"
    )
    print(
        f"  partitions that moved:  n={len(mv)} p50={_pct(mv, 0.5):.0f} ms "
        f"p99={_pct(mv, 0.99):.0f} ms max={max(mv, default=0):.0f} ms"
    )
    print(
        f"  state records restored: {sum(restored)} over {len(restored)} restores; "
        f"revocations logged: {revokes}"
    )
    for kind, s_max, m_max, n_s, n_m in result["per_event"]:
        print(
            f"    {kind:6s} stayed max {s_max:6.0f} ms ({n_s})  moved max {m_max:6.0f} ms ({n_m})"
        )
    if broker_proc is not None:
        broker_proc.stop()
    print(
        f"  logs: {tmp}  (median baseline gap is the tick, {args.tick_ms} ms)"
        f"  stdev stayed {statistics.pstdev(st) if st else 0:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
