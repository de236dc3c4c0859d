"""What one exactly_once commit costs on Kafka: N tasks' transactions one after another (the
old order) vs `runtime.commit.commit_exactly_once` (all at once), alternating in one process.

    .venv/bin/python bench/eos_commit.py --bootstrap 127.0.0.1:9092 [--tasks 4 --rounds 60]
    .venv/bin/python bench/eos_commit.py            # starts its own broker (interop/)

Each task commits `--records` small records to its own partition of an output topic and one
input offset, as a W1 task does every 100 ms. The figures are wall-clock milliseconds per
commit of all tasks (median and p90 over the rounds), the round trips being most of it; the
two ways alternate round by round, so machine load moves both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamz_kit.runtime.commit import commit_exactly_once  # noqa: E402
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect  # noqa: E402
from streamz_kit.transport.port import Producer  # noqa: E402


class _State:
    def changelog_records(self, stream_time: int) -> list[ProducerRecord]:
        return []

    def consumed(self, offsets: dict[TopicPartition, int]) -> None:
        pass

    def apply(self, written: dict[TopicPartition, int]) -> None:
        pass


class _Task:
    """What `commit_exactly_once` reads of a task: its outputs and consumed offsets."""

    def __init__(self, task_id: str, out: str, source: str, partition: int, n: int) -> None:
        self.task_id = task_id
        self.out, self.source, self.partition, self.n = out, source, partition, n
        self.state_manager = _State()
        self.stream_time = 0
        self.positions: dict[TopicPartition, int] = {}
        self.consumed_offsets: dict[tuple[str, int], int] = {}
        self.offset = 0
        self.pending: list[ProducerRecord] = []

    def work(self) -> None:
        now = int(time.time() * 1000)
        self.pending = [
            ProducerRecord(self.out, self.partition, b"k%d" % i, b"v" * 60, now)
            for i in range(self.n)
        ]
        self.offset += self.n
        self.consumed_offsets[(self.source, self.partition)] = self.offset

    def flush_caches(self) -> None:
        pass

    def drain_output(self) -> list[ProducerRecord]:
        out, self.pending = self.pending, []
        return out


async def _one_after_another(pairs: list[tuple[Any, Producer]], group: str) -> None:
    for task, producer in pairs:
        offsets = {TopicPartition(t, p): o for (t, p), o in task.consumed_offsets.items()}
        task.consumed_offsets.clear()
        await producer.begin()
        for record in task.drain_output():
            producer.send(record)
        await producer.send_offsets(group, offsets)
        await producer.commit()


async def main(args: argparse.Namespace) -> None:
    transport = connect(f"kafka://{args.bootstrap}")
    await transport.start()
    tag = uuid.uuid4().hex[:8]
    out, source, group = f"eosc-{tag}-out", f"eosc-{tag}-in", f"eosc-{tag}"
    await transport.admin().create_topics(
        [TopicSpec(out, args.tasks), TopicSpec(source, args.tasks)]
    )
    tasks = [_Task(f"0_{p}", out, source, p, args.records) for p in range(args.tasks)]
    producers = [transport.producer(transactional_id=f"{group}-0_{p}") for p in range(args.tasks)]
    await asyncio.gather(*(p.init_transactions() for p in producers))
    pairs = list(zip(tasks, producers))
    times: dict[str, list[float]] = {"one after another": [], "all at once": []}
    for round_ in range(args.rounds + 2):
        for name in (
            ("one after another", "all at once")
            if round_ % 2
            else ("all at once", "one after another")
        ):
            for task in tasks:
                task.work()
            started = time.perf_counter()
            if name == "all at once":
                await commit_exactly_once(pairs, group)  # type: ignore[arg-type]
            else:
                await _one_after_another(pairs, group)
            if round_ >= 2:  # the first rounds open connections
                times[name].append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
    for name, ms in times.items():
        ms.sort()
        print(
            f"{name:>18}: {args.tasks} tasks, median {statistics.median(ms):.1f} ms, "
            f"p90 {ms[int(len(ms) * 0.9)]:.1f} ms per commit ({len(ms)} commits)"
        )
    await transport.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="a running Kafka (default: start one)")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--records", type=int, default=200, help="per task per commit")
    args = parser.parse_args()
    if args.bootstrap:
        asyncio.run(main(args))
    else:
        from interop.kafka_broker import KafkaBroker

        with KafkaBroker() as bootstrap:
            args.bootstrap = bootstrap
            asyncio.run(main(args))
