"""Async map throughput against a local asyncio service with a fixed latency (issue 19).

    .venv/bin/python bench/async_map.py [--latency-ms 20] [--in-flight 1,16,64,256]

The service runs in its own process (an asyncio TCP server answering each line after the
latency, so it costs the worker no CPU); the App (embedded broker, at_least_once) maps every
record through `map_values_async` with one pooled connection per concurrent call. Reported:
completed calls per second between the first and the last completion, against the ideal
max_in_flight / latency. Prints only.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.transport import connect
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ProducerRecord, TopicSpec

# One partition, so one task: max_in_flight is per task (each task has its own table).
PARTITIONS = 1

SERVICE = """
import asyncio, sys
latency = float(sys.argv[1])
async def handle(reader, writer):
    while line := await reader.readline():
        await asyncio.sleep(latency)
        writer.write(line.upper())
        await writer.drain()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


class Client:
    """A pool of persistent connections: one per concurrent call."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def call(self, value: str) -> str:
        conn = (
            self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
        )
        conn[1].write(value.encode() + b"\n")
        answer = await conn[0].readline()
        self.idle.append(conn)
        return answer.decode().strip()


async def produce(broker: str, n: int, keys: int) -> None:
    transport = connect(broker)
    await transport.start()
    try:
        await transport.admin().create_topics([TopicSpec("in", PARTITIONS)])
        producer = transport.producer()
        now = int(time.time() * 1000)
        for i in range(n):
            key = f"k{i % keys}".encode()
            producer.send(
                ProducerRecord("in", default_partition(key, PARTITIONS), key, b"v%d" % i, now)
            )
        await producer.flush()
        await producer.close()
    finally:
        await transport.close()


async def one_run(
    port: int, max_in_flight: int, n: int, keys: int, guarantee: str
) -> tuple[float, float]:
    """Completed calls per second, and the mean call latency seen by the operator (s)."""
    client = Client(port)
    done: list[float] = []

    async def call(value: str) -> str:
        answer = await client.call(value)
        done.append(time.perf_counter())
        return answer

    with tempfile.TemporaryDirectory(prefix="sk-async-bench-") as tmp:
        broker = f"embedded://{Path(tmp) / 'log'}"
        await produce(broker, n, keys)
        builder = sk.StreamsBuilder()
        (
            builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
            .map_values_async(call, max_in_flight=max_in_flight)
            .to("out", value_serde=serdes.STRING)
        )
        app = sk.App(
            builder.build(),
            application_id="async-bench",
            broker=broker,
            processing_guarantee=guarantee,
            state_dir=str(Path(tmp) / "state"),
        )
        await app.start()
        deadline = time.monotonic() + 600
        while len(done) < n and time.monotonic() < deadline and app.error is None:
            await asyncio.sleep(0.05)
        calls = app.metrics()["task_details"][0]["async_calls"]
        mean = sum(c["latency_sum"] for c in calls.values()) / max(
            1, sum(c["latency_seconds"]["count"] for c in calls.values())
        )
        await app.stop()
    if len(done) < 2:
        return 0.0, mean
    return (len(done) - 1) / (done[-1] - done[0]), mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--in-flight", default="1,16,64,256")
    parser.add_argument(
        "--seconds",
        type=float,
        default=4.0,
        help="records per run = ideal rate x this (at least 200)",
    )
    parser.add_argument("--keys", type=int, default=5000)
    parser.add_argument("--guarantee", default="at_least_once")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    service = subprocess.Popen(
        [sys.executable, "-c", SERVICE, str(latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None
        port = int(service.stdout.readline())
        print(f"service latency {args.latency_ms:g} ms, {args.guarantee}, {args.keys} keys")
        print(
            f"{'max_in_flight':>13} {'records':>8} {'records/s':>10} {'ideal':>8} {'ratio':>6}"
            f" {'call ms':>8}"
        )
        for max_in_flight in (int(x) for x in args.in_flight.split(",")):
            ideal = max_in_flight / latency
            n = max(200, int(ideal * args.seconds))
            rate, mean = asyncio.run(one_run(port, max_in_flight, n, args.keys, args.guarantee))
            print(
                f"{max_in_flight:>13} {n:>8} {rate:>10.0f} {ideal:>8.0f} {rate / ideal:>6.2f}"
                f" {mean * 1000:>8.1f}",
                flush=True,
            )
    finally:
        service.terminate()
        service.wait()


if __name__ == "__main__":
    main()
