"""`--workers`: W2 run as N worker processes of one application, 1 against N, timed from outside.

    .venv/bin/python bench/workers.py                                  # 1 vs 2, embedded and Kafka
    .venv/bin/python bench/workers.py --records 2000000 --brokers embedded --repeat 3
    .venv/bin/python bench/run.py --workers 1,2                        # the same, from the harness

Each run starts the application the way a user would — `streamz-kit run bench/apps/w2_app.py
--workers N` (the supervisor forks N workers; on the embedded log they share the partitions
through leases in the log, on Kafka they are members of one consumer group) — on a fresh copy
of the preloaded input, and this process times the drain from outside, as bench/drain.py does
for the other Kafka rows: from the first output record (or the group turning Stable on Kafka)
to the moment the output topic (read_committed) holds every key's final count. Then the
supervisor gets SIGTERM (every worker commits and leaves), the output is read back and checked
exactly against the input (bench/workloads.py), and the supervisor must exit 0.

Beside each figure: the CPU seconds the workers used (the supervisor's reaped children), the
broker JVM's CPU seconds (Kafka), how busy the whole machine was (/proc/stat) and the load
average, so a ratio taken on a shared machine can be read for what it is. Runs alternate
1, N, 1, N... so slow drifts of the machine's load hit both sides alike; the ratio reported is
that of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import brokers  # noqa: E402
import drain  # noqa: E402
import workloads as wl  # noqa: E402
from brokers import ROOT, run  # noqa: E402

APP_FILE = HERE / "apps" / "w2_app.py"
POLL_S = 0.05


def say(msg: str) -> None:
    print(f"[workers {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (every core) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu_s(pid: int | None) -> float:
    """utime + stime of one live process (the broker JVM), in seconds."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_autogroup(pid: int | None, nice: int) -> None:
    """The nice of another process's session (the broker JVM's: it starts its own)."""
    if pid is not None:
        try:
            with open(f"/proc/{pid}/autogroup", "w") as f:
                f.write(str(nice))
        except OSError as exc:
            say(f"  broker priority unchanged ({exc.strerror})")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class EmbeddedDrain(drain.OutsideTimer):
    """bench/drain.py's outside timing on the embedded log: read the output topic while the
    workers write it (WAL mode: a reader never blocks a writer)."""

    def __init__(self, log_dir: Path, topic: str, want: Any, n: int, timeout_s: float) -> None:
        super().__init__(topic, drain.Progress("W2", want), n, timeout_s)
        self.log_dir = log_dir

    async def _watch(self) -> None:
        from streamz_kit.transport import TopicPartition, connect

        transport = connect(f"embedded://{self.log_dir}")
        await transport.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in range(wl.PARTITIONS)]
            consumer = transport.consumer(group_id=None, read_committed=True)
            consumer.assign(tps)
            for tp in tps:
                consumer.seek(tp, 0)
            deadline = self.t_spawn + self.timeout_s
            while not self.stop_flag.is_set() and time.monotonic() < deadline:
                batch = await consumer.poll(timeout_ms=0, max_records=100_000)
                got = drain.take(self, batch)
                if self.t_done is not None:
                    break
                if not got:
                    await asyncio.sleep(POLL_S)
            await consumer.close()
        finally:
            await transport.close()

    def result(self) -> dict[str, Any]:
        if self.t_done is None or self.t_first_output is None:
            return {"outside_rate": None, "outside_error": self.error or "output never complete"}
        return {
            "outside_rate": self.n / (self.t_done - self.t_first_output),
            "outside_s": self.t_done - self.t_first_output,
            "outside_from_spawn_s": self.t_done - self.t_spawn,
            "outside_start": "first output",
            "outside_error": self.error,
        }


class WorkersBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.n = args.records
        self.work = Path(tempfile.mkdtemp(prefix="streamz-workers-bench-"))
        self.log = self.work / "workers.log"
        self.results: list[dict[str, Any]] = []
        self.runs = 0

    def prepare(self) -> None:
        say(f"generating {self.n:,} W2 records ({wl.KEYS:,} keys, {wl.PARTITIONS} partitions)")
        self.records = wl.make_input(self.n)
        self.want = wl.expected_w2(self.records)

    # -- one run ------------------------------------------------------------------------------
    def command(self, workers: int, broker: str, guarantee: str, app_id: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "streamz_kit",
            "run",
            str(APP_FILE),
            "--workers",
            str(workers),
            "--broker",
            broker,
            "--processing-guarantee",
            guarantee,
            "--application-id",
            app_id,
            "--state-dir",
            str(self.work / f"state-{app_id}"),
            "--commit-interval-ms",
            str(self.args.commit_ms),
            "--log-level",
            "WARNING",
        ]

    def one(
        self,
        workers: int,
        broker_kind: str,
        guarantee: str,
        *,
        broker_url: str,
        timer: Any,
        out: str,
        app_id: str,
        read: Any,
        jvm_pid: int | None = None,
    ) -> dict[str, Any]:
        label = f"{broker_kind} {guarantee} --workers {workers}"
        say(f"{label} (load {load_average()})")
        env = {**os.environ, "BENCH_OUT": out, "PYTHONPATH": str(ROOT)}
        if self.args.priority is not None:  # only while measuring: preloads run at nice 0
            from soak import raise_priority

            say(f"  priority: {raise_priority(self.args.priority)}")
            set_autogroup(jvm_pid, self.args.priority)  # the broker runs in its own session
        load_before = os.getloadavg()[0]
        cpu_before, ticks_before = children_cpu_s(), cpu_ticks()
        own_before = time.process_time()  # this harness: the outside reader of the output
        jvm_before = process_cpu_s(jvm_pid)
        t0 = time.monotonic()
        timer.start()
        with open(self.log, "ab") as log:
            log.write(
                f"\n=== {label}: {' '.join(self.command(workers, broker_url, guarantee, app_id))}\n".encode()
            )
            log.flush()
            proc = subprocess.Popen(
                self.command(workers, broker_url, guarantee, app_id),
                stdout=log,
                stderr=log,
                env=env,
            )
            deadline = t0 + self.args.run_timeout
            while timer.is_alive() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(POLL_S)
            t_end = time.monotonic()
            ticks_end = cpu_ticks()
            jvm_after = process_cpu_s(jvm_pid)
            load_after = os.getloadavg()[0]
            died = proc.poll()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        if self.args.priority is not None:
            from soak import raise_priority

            raise_priority(0)
            set_autogroup(jvm_pid, 0)
        timer.stop_flag.set()
        timer.join(timeout=10)
        result: dict[str, Any] = {
            "broker": broker_kind,
            "guarantee": guarantee,
            "workers": workers,
            **timer.result(),
            "worker_cpu_s": children_cpu_s() - cpu_before,
            "jvm_cpu_s": jvm_after - jvm_before if jvm_pid else None,
            "harness_cpu_s": time.process_time() - own_before,
            "wall_s": t_end - t0,
            "load": (load_before, load_after),
            "exit_code": code,
            "died_early": died,
        }
        busy, total = (e - b for e, b in zip(ticks_end, ticks_before, strict=True))
        result["machine_busy"] = busy / total if total else None
        outputs = read(out)
        # W2's counts leave the record cache once per key per commit: how many updates were
        # written shows how well the cache compacted them (and so the CPU per input record)
        result["outputs"] = len(outputs)
        result["check"] = wl.verify_counts(outputs, self.want)
        if code != 0:
            result["check"] += f"; supervisor exit code {code} (see {self.log})"
        rate = result.get("outside_rate") or 0
        say(
            f"  {rate:,.0f} rec/s over {result.get('outside_s') or 0:.1f} s "
            f"({result.get('outside_from_spawn_s') or 0:.1f} s from spawn); workers "
            f"{result['worker_cpu_s']:.1f} CPU s ({result['worker_cpu_s'] / result['wall_s']:.2f} cores)"
            + (f", broker {result['jvm_cpu_s']:.1f} CPU s" if jvm_pid else "")
            + f", harness {result['harness_cpu_s']:.1f} CPU s"
            + f"; machine busy {100 * (result['machine_busy'] or 0):.0f}% of 2 cores; "
            f"load {load_before:.1f}->{load_after:.1f}; {result['outputs']:,} output updates; "
            f"check {result['check']}"
        )
        self.results.append(result)
        return result

    # -- the embedded log -----------------------------------------------------------------------
    def embedded(self) -> None:
        template = self.work / "embedded-template"
        say("preloading the embedded log")
        run(brokers.embedded_preload(template, {wl.INPUT_TOPIC: self.records}, ["w2-out"]))
        for guarantee in self.args.guarantees:
            for _ in range(self.args.repeat):
                for workers in self.args.workers:
                    self.runs += 1
                    log_dir = self.work / f"emb-{self.runs}"
                    shutil.copytree(template, log_dir)
                    self.one(
                        workers,
                        "embedded",
                        guarantee,
                        broker_url=f"embedded://{log_dir}",
                        timer=EmbeddedDrain(
                            log_dir, "w2-out", self.want, self.n, self.args.run_timeout
                        ),
                        out="w2-out",
                        app_id=f"bench-w2-workers-{self.runs}",
                        read=lambda t, d=log_dir: run(brokers.embedded_read(d, t)),
                    )
                    shutil.rmtree(log_dir, ignore_errors=True)

    # -- real Kafka -----------------------------------------------------------------------------
    def kafka(self) -> None:
        sys.path.insert(0, str(ROOT))
        from interop.kafka_broker import KafkaBroker

        broker = KafkaBroker(heap_mb=768)
        bootstrap = broker.start()
        jvm_pid = broker._proc.pid if broker._proc is not None else None  # noqa: SLF001
        try:
            say(f"Kafka on {bootstrap} (JVM pid {jvm_pid}); preloading")
            runs = len(self.args.guarantees) * self.args.repeat * len(self.args.workers)
            outs = [f"w2-out-workers-{self.runs + i + 1}" for i in range(runs)]
            run(brokers.kafka_create_topics(bootstrap, [wl.INPUT_TOPIC, *outs]))
            run(brokers.kafka_produce_batches(bootstrap, wl.INPUT_TOPIC, self.records))
            for guarantee in self.args.guarantees:
                for _ in range(self.args.repeat):
                    for workers in self.args.workers:
                        self.runs += 1
                        out, app_id = f"w2-out-workers-{self.runs}", f"bench-w2-workers-{self.runs}"
                        timer = drain.DrainTimer(
                            bootstrap, app_id, out, "W2", self.want, self.n, self.args.run_timeout
                        )
                        self.one(
                            workers,
                            "kafka",
                            guarantee,
                            broker_url=f"kafka://{bootstrap}",
                            timer=timer,
                            out=out,
                            app_id=app_id,
                            read=lambda t: run(brokers.kafka_read(bootstrap, t)),
                            jvm_pid=jvm_pid,
                        )
        finally:
            broker.stop()

    # -- report ---------------------------------------------------------------------------------
    def table(self) -> str:
        lines = [
            "| broker | guarantee | workers | rec/s (outside, median) | runs rec/s | vs 1 worker "
            "| worker CPU s | worker cores | broker CPU s | harness CPU s | machine busy | load "
            "| check |",
            "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        groups: dict[tuple[str, str], dict[int, list[dict[str, Any]]]] = {}
        for r in self.results:
            groups.setdefault((r["broker"], r["guarantee"]), {}).setdefault(
                r["workers"], []
            ).append(r)
        for (broker, guarantee), by_n in groups.items():
            base = None
            for n in sorted(by_n):
                rs = by_n[n]
                rates = [r.get("outside_rate") or 0 for r in rs]
                med = statistics.median(rates)
                if n == 1:
                    base = med
                ratio = f"{med / base:.2f}×" if base and n != 1 else "—"
                cpu = statistics.median(r["worker_cpu_s"] for r in rs)
                cores = statistics.median(r["worker_cpu_s"] / r["wall_s"] for r in rs)
                jvm = [r["jvm_cpu_s"] for r in rs if r.get("jvm_cpu_s") is not None]
                busy = statistics.median(r["machine_busy"] or 0 for r in rs)
                loads = f"{min(r['load'][0] for r in rs):.1f}-{max(r['load'][1] for r in rs):.1f}"
                checks = sorted({r["check"] for r in rs})
                jvm_cell = f"{statistics.median(jvm):.1f}" if jvm else "—"
                own = statistics.median(r["harness_cpu_s"] for r in rs)
                lines.append(
                    f"| {broker} | {guarantee} | {n} | {med:,.0f} | "
                    f"{', '.join(f'{x:,.0f}' for x in rates)} | {ratio} | {cpu:.1f} | {cores:.2f} | "
                    f"{jvm_cell} | {own:.1f} | {100 * busy:.0f}% | {loads} | {'; '.join(checks)} |"
                )
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument(
        "--workers", default="1,2", help="worker counts to compare (the first is the base)"
    )
    p.add_argument("--brokers", default="embedded,kafka")
    p.add_argument("--guarantees", default="at_least_once")
    p.add_argument(
        "--commit-ms",
        type=int,
        default=100,
        help="commit interval of every run (W2's counts leave the record cache at each "
        "commit, so the outside clock sees output within one interval of the start)",
    )
    p.add_argument("--repeat", type=int, default=2, help="runs per worker count (alternating)")
    p.add_argument("--run-timeout", type=float, default=300.0)
    p.add_argument(
        "--priority",
        type=int,
        default=None,
        metavar="NICE",
        help="nice for this session while a run is measured (process and autogroup; "
        "bench/soak.py's raise_priority), e.g. -20 as root under setsid on a shared machine: "
        "with autogroup scheduling the CPU is split between sessions first, so N workers "
        "otherwise share one session's slice and a 1-vs-N ratio measures the scheduler",
    )
    args = p.parse_args(argv)
    args.workers = [int(x) for x in args.workers.split(",") if x]
    args.guarantees = [g for g in args.guarantees.split(",") if g]
    brokers_wanted = [b for b in args.brokers.split(",") if b]
    bench = WorkersBench(args)
    say(f"work directory {bench.work} (log: {bench.log}); load {load_average()}")
    failed = False
    try:
        bench.prepare()
        if "embedded" in brokers_wanted:
            bench.embedded()
        if "kafka" in brokers_wanted:
            bench.kafka()
        print()
        print(bench.table())
        print(
            f"\n{bench.n:,} records, {wl.KEYS:,} keys, {wl.PARTITIONS} partitions, commit "
            f"{args.commit_ms} ms; {os.cpu_count()} cores; load at end {load_average()}"
        )
        failed = any(r["check"] != "ok" for r in bench.results)
    finally:
        if failed:
            say(f"kept {bench.work} for a look: a run failed its check")
        else:
            shutil.rmtree(bench.work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
