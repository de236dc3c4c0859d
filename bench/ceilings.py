"""The raw aiokafka ceilings on the same broker, same input: what the client alone can do.

- consume: read the N input records (no group, no decoding beyond aiokafka's own records);
- produce: write N records with aiokafka's batch builder (`create_batch` / `send_batch`);
- consume-then-produce: both in one loop, bytes passed through unchanged — the floor under any
  W1 implementation on this client, so W1's share of it says how much the engine costs.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from brokers import Record, batch_producer, kafka_create_topics, kafka_produce_batches


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


async def consume_rate(bootstrap: str, topic: str, n: int, timeout_s: float = 120) -> float:
    consumer = await _consumer(bootstrap, topic)
    try:
        got, first, first_n = 0, 0.0, 0
        deadline = time.monotonic() + timeout_s
        while got < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for recs in batch.values():
                for r in recs:  # touch each record as a processor would
                    _ = r.value
                got += len(recs)
            if got and not first:
                first = time.monotonic()
                first_n = got
        return (got - first_n) / (time.monotonic() - first) if got > first_n else 0.0
    finally:
        await consumer.stop()


async def consume_produce_rate(
    bootstrap: str, topic: str, out: str, n: int, timeout_s: float = 120
) -> float:
    await kafka_create_topics(bootstrap, [out])
    consumer = await _consumer(bootstrap, topic)
    producer = await batch_producer(bootstrap)
    try:
        got, first, first_n = 0, 0.0, 0
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
            if got and not first:
                first, first_n = time.monotonic(), got
        await asyncio.gather(*futures)
        return (got - first_n) / (time.monotonic() - first) if got > first_n else 0.0
    finally:
        await producer.stop()
        await consumer.stop()


async def measure(bootstrap: str, topic: str, records: list[Record]) -> dict[str, float]:
    """All three ceilings; the produce one writes the records again to a scratch topic."""
    await kafka_create_topics(bootstrap, ["ceiling-produce"])
    return {
        "consume": await consume_rate(bootstrap, topic, len(records)),
        "produce": await kafka_produce_batches(bootstrap, "ceiling-produce", records),
        "consume_produce": await consume_produce_rate(
            bootstrap, topic, "ceiling-passthrough", len(records)
        ),
    }
