"""Preload inputs and read outputs on the embedded log and on Kafka (raw aiokafka there).

Tansu quirk (docs/DESIGN): its "latest" offset can be short, so reads stop only after
several fetches in a row return nothing, never on the end offset alone.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect  # noqa: E402
from streamz_kit.transport.partitioner import default_partition  # noqa: E402

Record = tuple[bytes, bytes, int]
Pair = tuple[bytes | None, bytes | None]


# -- embedded -------------------------------------------------------------------------------------
async def embedded_preload(
    log_dir: Path, topics: dict[str, list[Record]], extra_topics: list[str], partitions: int = 4
) -> None:
    transport = connect(f"embedded://{log_dir}")
    await transport.start()
    try:
        admin = transport.admin()
        await admin.create_topics([TopicSpec(t, partitions) for t in [*topics, *extra_topics]])
        producer = transport.producer()
        for topic, records in topics.items():
            for i, (key, value, ts) in enumerate(records):
                producer.send(
                    ProducerRecord(topic, default_partition(key, partitions), key, value, ts)
                )
                if i % 20_000 == 19_999:
                    await producer.flush()
            await producer.flush()
        await producer.close()
    finally:
        await transport.close()


async def embedded_read(log_dir: Path, topic: str) -> list[Pair]:
    transport = connect(f"embedded://{log_dir}")
    await transport.start()
    try:
        counts = await transport.admin().partition_counts([topic])
        if topic not in counts:
            return []
        tps = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer = transport.consumer(group_id=None, read_committed=True)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: list[Pair] = []
        empty = 0
        while empty < 2:
            batch = await consumer.poll(timeout_ms=50, max_records=50_000)
            got = [r for recs in batch.values() for r in recs]
            empty = 0 if got else empty + 1
            out.extend((r.key, r.value) for r in got)
        await consumer.close()
        return out
    finally:
        await transport.close()


# -- Tansu through raw aiokafka --------------------------------------------------------------------
# Tansu reports only the configs a topic was created with; Quix Streams reads these two from its
# input topic to configure its changelogs, so set them explicitly (Kafka's defaults).
TOPIC_CONFIG = {"retention.ms": "604800000", "retention.bytes": "-1"}


async def kafka_create_topics(bootstrap: str, topics: list[str], partitions: int = 4) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(t, partitions, 1, topic_configs=dict(TOPIC_CONFIG))
            for t in topics
            if t not in existing
        ]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def batch_producer(bootstrap: str) -> Any:
    """A started aiokafka producer for whole batches (1 MB, acks=1): the preload's and the
    raw ceilings' (bench/ceilings.py), so the ceiling writes as the preload does."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=5,
        max_batch_size=1 << 20,
        max_request_size=8 << 20,
        acks=1,
    )
    await producer.start()
    return producer


async def kafka_produce_batches(
    bootstrap: str, topic: str, records: list[Record], partitions: int = 4
) -> float:
    """Write with aiokafka's batch builder; returns records/s (also the produce ceiling)."""
    import time

    by_part: list[list[Record]] = [[] for _ in range(partitions)]
    for rec in records:
        by_part[default_partition(rec[0], partitions)].append(rec)
    producer = await batch_producer(bootstrap)
    try:
        t0 = time.perf_counter()
        futures: list[Any] = []
        for p, recs in enumerate(by_part):
            batch = producer.create_batch()
            for key, value, ts in recs:
                if batch.append(key=key, value=value, timestamp=ts) is None:
                    batch.close()
                    futures.append(await producer.send_batch(batch, topic, partition=p))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=ts)
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*futures)
        return len(records) / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def kafka_read(bootstrap: str, topic: str, *, expect: int | None = None) -> list[Pair]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as KTP

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        isolation_level="read_committed",  # aborted writes never count
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        # every bench topic has 4 partitions (a fresh client may not know the topic yet)
        tps = [KTP(topic, p) for p in range(4)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Pair] = []
        empty = 0
        while empty < 4 and (expect is None or len(out) < expect):
            batch = await consumer.getmany(timeout_ms=250, max_records=50_000)
            got = [r for recs in batch.values() for r in recs]
            empty = 0 if got else empty + 1
            out.extend((r.key, r.value) for r in got)
        return out
    finally:
        await consumer.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
