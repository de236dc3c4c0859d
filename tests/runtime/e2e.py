"""Helpers for end-to-end tests: run a worker in a subprocess, produce, read outputs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from streamz_kit.errors import InvalidStateStoreError
from streamz_kit.transport import connect
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

APPS = Path(__file__).parent / "apps"


class Worker:
    """`streamz-kit run APP` in a subprocess, with its output kept for failure messages."""

    def __init__(
        self, app: str, env: dict[str, str], log_path: Path, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 -- the worker writes to it until stop()
        app_path = app if "/" in app else str(APPS / app)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamz_kit",
                "run",
                app_path,
                "--log-level",
                "INFO",
                *extra_args,
            ],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def produce(broker: str, topic: str, records: list[tuple[str, Any]], partitions: int) -> None:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        if topic not in await admin.partition_counts([topic]):
            await admin.create_topics([TopicSpec(topic, partitions)])
        producer = transport.producer()
        now = int(time.time() * 1000)
        for i, (key, value) in enumerate(records):
            kb = key.encode()
            producer.send(
                ProducerRecord(
                    topic, default_partition(kb, partitions), kb, orjson.dumps(value), now + i
                )
            )
        await producer.flush()
        await producer.close()
    finally:
        await transport.close()


async def read_all(broker: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every committed record of the topic, partition by partition."""
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        counts = await admin.partition_counts([topic])
        if topic not in counts:
            return []
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        ends = await admin.list_offsets(tps, "latest")
        consumer = transport.consumer(group_id=None)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: list[tuple[bytes | None, bytes | None]] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            batch = await consumer.poll(timeout_ms=100, max_records=50_000)
            if not any(batch.values()):
                break
            for records in batch.values():
                out.extend((r.key, r.value) for r in records)
        await consumer.close()
        return out
    finally:
        await transport.close()


async def app_ready(app: Any, ready: Any, what: str = "", timeout: float = 20) -> None:
    """Poll `ready()` every 20 ms while an in-process App runs; fail on the App's error or
    after `timeout` s. A store not queryable yet (InvalidStateStoreError) is "not ready"."""
    deadline = time.monotonic() + timeout
    while True:
        assert app.error is None, app.error
        try:
            if ready():
                return
        except InvalidStateStoreError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {app.metrics()}"
        await asyncio.sleep(0.02)


def wait_for(predicate: Any, timeout: float, worker: Worker | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if worker is not None and not worker.alive():
            raise AssertionError(f"worker exited early:\n{worker.output()[-3000:]}")
        time.sleep(0.1)
    tail = worker.output()[-3000:] if worker is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")
