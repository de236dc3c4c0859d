"""W4 end-to-end latency at a fixed input rate on the embedded broker.

Three processes: the recommendations generator (examples/recommendations/generator.py) writing
`--rate` actions/s, the streamz_kit worker (sk_runner.py --serve), and this process reading
`recommendations` with a read_committed consumer. Latency of an output record is
(wall clock when this consumer sees it) - (its timestamp), and an output's timestamp is that of
the action that produced it (the generator stamps each action when it builds the batch). The
first `warmup_s` seconds are dropped (the worker opens its stores, the caches fill).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import w4_procs
from w4_procs import percentile

from examples.recommendations.generator import ensure_topics
from streamz_kit.transport import TopicPartition, connect

OUTPUT_TOPIC = "recommendations"


async def _collect(broker: str, stop: asyncio.Event, out: list[tuple[float, float]]) -> None:
    transport = connect(broker)
    await transport.start()
    try:
        tps = [TopicPartition(OUTPUT_TOPIC, p) for p in range(4)]
        consumer = transport.consumer(group_id=None, read_committed=True)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        while not stop.is_set():
            batch = await consumer.poll(timeout_ms=50, max_records=5_000)
            now_ms = time.time() * 1000
            mono = time.monotonic()
            for records in batch.values():
                for r in records:
                    out.append((mono, now_ms - r.timestamp))
        await consumer.close()
    finally:
        await transport.close()


async def _create_topics(broker: str) -> None:
    """The example's own topics, its item catalogue included (the worker refuses to start
    without it)."""
    transport = connect(broker)
    await transport.start()
    try:
        await ensure_topics(transport, partitions=4)
    finally:
        await transport.close()


async def measure(
    workdir: Path,
    *,
    guarantee: str,
    rate: int,
    seconds: float,
    commit_ms: int,
    warmup_s: float = 2.0,
    log: Any = None,
    cache_max_bytes: int | None = None,
) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    broker = f"embedded://{workdir / 'log'}"
    await _create_topics(broker)
    worker, ready = w4_procs.start_worker(
        broker,
        workdir,
        guarantee=guarantee,
        commit_ms=commit_ms,
        extra=[] if cache_max_bytes is None else ["--cache-max-bytes", str(cache_max_bytes)],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    generator: subprocess.Popen[str] | None = None
    samples: list[tuple[float, float]] = []
    stop = asyncio.Event()
    try:
        await w4_procs.wait_ready(worker, ready, "W4")
        collector = asyncio.ensure_future(_collect(broker, stop, samples))
        started = time.monotonic()
        generator = w4_procs.start_generator(broker, rate, seconds, stderr=log)
        while generator.poll() is None:
            await asyncio.sleep(0.1)
        # Let the last outputs arrive: until none came for a second (a short run may end
        # before the worker has created all its tasks), at most 30 s.
        await asyncio.sleep(max(0.5, 3 * commit_ms / 1000))
        drain_until = time.monotonic() + 30
        seen = -1
        while time.monotonic() < drain_until and (not samples or len(samples) != seen):
            seen = len(samples)
            await asyncio.sleep(1.0)
        stop.set()
        await collector
    finally:
        stdout = w4_procs.stop(generator, worker)
    rss = None
    for line in (stdout or "").splitlines():
        if line.startswith("BENCH_RESULT "):
            import json

            rss = json.loads(line.split(" ", 1)[1]).get("peak_rss_kb")
    steady = [lat for mono, lat in samples if mono - started >= warmup_s]
    return {
        "p50_ms": percentile(steady, 50),
        "p99_ms": percentile(steady, 99),
        "outputs": len(samples),
        "measured": len(steady),
        "peak_rss_kb": rss,
    }
