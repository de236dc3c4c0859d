"""The raw aiokafka ceilings on the same broker, same input: what the client alone can do.

- consume: read the N input records (no group, no decoding beyond aiokafka's own records);
- produce: write N records with aiokafka's batch builder (`create_batch` / `send_batch`);
- consume-then-produce: both in one loop, bytes passed through unchanged — the floor under any
  W1 implementation on this client, so W1's share of it says how much the engine costs;
- hand-written W1 (reported, not a target): the same loop doing W1's own work per record, as an
  expert would write it with aiokafka and orjson and no framework (parse the value, the same
  predicate and mapping functions as the topology, dump the result; keys are unchanged, so
  each output goes to its input's partition). streamz_kit's W1 against it is what the
  framework costs; this loop against the pass-through one is what the workload costs.

Each figure is timed from the first batch; `*_cpu` keys give the same in records per
CPU-second of this process (steadier than wall time on a loaded machine).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from brokers import Record, batch_producer, kafka_create_topics, kafka_produce_batches


class _Clock:
    """Rate from the first batch on, in wall time and in this process's CPU time."""

    def __init__(self) -> None:
        self.first = self.cpu_first = 0.0
        self.first_n = 0

    def tick(self, got: int) -> None:
        if got and not self.first:
            self.first, self.cpu_first, self.first_n = time.monotonic(), time.process_time(), got

    def rates(self, got: int) -> tuple[float, float]:
        if got <= self.first_n:
            return 0.0, 0.0
        wall = time.monotonic() - self.first
        cpu = time.process_time() - self.cpu_first
        n = got - self.first_n
        return n / wall, (n / cpu if cpu > 0 else 0.0)


async def _consumer(bootstrap: str, topic: str) -> Any:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=32 << 20,
    )
    await consumer.start()
    # every bench topic has 4 partitions (a fresh client may not have the topic's metadata yet)
    tps = [TopicPartition(topic, p) for p in range(4)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    return consumer


async def consume_rate(
    bootstrap: str, topic: str, n: int, timeout_s: float = 120
) -> tuple[float, float]:
    """(records/s, records per CPU-second)."""
    consumer = await _consumer(bootstrap, topic)
    try:
        got, clock = 0, _Clock()
        deadline = time.monotonic() + timeout_s
        while got < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for recs in batch.values():
                for r in recs:  # touch each record as a processor would
                    _ = r.value
                got += len(recs)
            clock.tick(got)
        return clock.rates(got)
    finally:
        await consumer.stop()


async def consume_produce_rate(
    bootstrap: str, topic: str, out: str, n: int, timeout_s: float = 120
) -> tuple[float, float]:
    """Bytes passed through: (records/s, records per CPU-second)."""
    await kafka_create_topics(bootstrap, [out])
    consumer = await _consumer(bootstrap, topic)
    producer = await batch_producer(bootstrap)
    try:
        got, clock = 0, _Clock()
        futures: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while got < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for tp, recs in batch.items():
                b = producer.create_batch()
                for r in recs:
                    if b.append(key=r.key, value=r.value, timestamp=r.timestamp) is None:
                        b.close()
                        futures.append(await producer.send_batch(b, out, partition=tp.partition))
                        b = producer.create_batch()
                        b.append(key=r.key, value=r.value, timestamp=r.timestamp)
                b.close()
                futures.append(await producer.send_batch(b, out, partition=tp.partition))
                got += len(recs)
            clock.tick(got)
        await asyncio.gather(*futures)
        return clock.rates(got)
    finally:
        await producer.stop()
        await consumer.stop()


async def hand_w1_rate(
    bootstrap: str, topic: str, out: str, n: int, timeout_s: float = 120
) -> tuple[float, float]:
    """W1 by hand on raw aiokafka: (records/s, records per CPU-second). The loop above plus
    W1's own work per record: orjson parse, `w1_keep`, `w1_map`, orjson dump."""
    import orjson
    from workloads import w1_keep, w1_map

    loads, dumps = orjson.loads, orjson.dumps
    await kafka_create_topics(bootstrap, [out])
    consumer = await _consumer(bootstrap, topic)
    producer = await batch_producer(bootstrap)
    try:
        got, clock = 0, _Clock()
        futures: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while got < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for tp, recs in batch.items():
                b = producer.create_batch()
                for r in recs:
                    value = loads(r.value)
                    if not w1_keep(value):
                        continue
                    data = dumps(w1_map(value))
                    if b.append(key=r.key, value=data, timestamp=r.timestamp) is None:
                        b.close()
                        futures.append(await producer.send_batch(b, out, partition=tp.partition))
                        b = producer.create_batch()
                        b.append(key=r.key, value=data, timestamp=r.timestamp)
                b.close()
                futures.append(await producer.send_batch(b, out, partition=tp.partition))
                got += len(recs)
            clock.tick(got)
        await asyncio.gather(*futures)
        return clock.rates(got)
    finally:
        await producer.stop()
        await consumer.stop()


async def measure(bootstrap: str, topic: str, records: list[Record]) -> dict[str, float]:
    """All three ceilings and the hand-written W1; the produce one writes the records again
    to a scratch topic. Keys: consume, produce, consume_produce, hand_w1 (records/s) and
    consume_cpu, consume_produce_cpu, hand_w1_cpu (records per CPU-second)."""
    await kafka_create_topics(bootstrap, ["ceiling-produce"])
    n = len(records)
    out: dict[str, float] = {}
    out["consume"], out["consume_cpu"] = await consume_rate(bootstrap, topic, n)
    out["produce"] = await kafka_produce_batches(bootstrap, "ceiling-produce", records)
    out["consume_produce"], out["consume_produce_cpu"] = await consume_produce_rate(
        bootstrap, topic, "ceiling-passthrough", n
    )
    out["hand_w1"], out["hand_w1_cpu"] = await hand_w1_rate(bootstrap, topic, "ceiling-hand-w1", n)
    return out
