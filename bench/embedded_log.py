"""Records/s of the embedded broker: produce in batches, then fetch everything back.

Usage: python bench/embedded_log.py [--records N] [--batch B] [--value-size S] [--partitions P]
Prints one line per workload. Runs in a fresh temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect


async def produce_rate(
    transport: Any, topic: str, records: int, batch: int, value: bytes, partitions: int
) -> float:
    """Records/s of `records` sends through the transport's producer, flushed every `batch`
    (also bench/kafka_adapter.py's, through the Kafka transport)."""
    producer = transport.producer()
    t0 = time.perf_counter()
    for i in range(records):
        producer.send(
            ProducerRecord(topic, i % partitions, b"key-%d" % i, value, 1_700_000_000_000 + i)
        )
        if (i + 1) % batch == 0:
            await producer.flush()
    await producer.flush()
    return records / (time.perf_counter() - t0)


async def fetch_rate(
    transport: Any, topic: str, records: int, partitions: int, timeout_ms: int, max_records: int
) -> float:
    """Records/s of reading the `records` back from offset 0 without a group."""
    consumer = transport.consumer(group_id=None)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, 0)
    got = 0
    t0 = time.perf_counter()
    while got < records:
        got += sum(
            len(v) for v in (await consumer.poll(timeout_ms, max_records=max_records)).values()
        )
    return got / (time.perf_counter() - t0)


async def run(records: int, batch: int, value_size: int, partitions: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        transport = connect(f"embedded://{os.path.join(tmp, 'log')}")
        await transport.start()
        await transport.admin().create_topics([TopicSpec("bench", partitions)])
        value = os.urandom(value_size)
        rate = await produce_rate(transport, "bench", records, batch, value, partitions)
        print(
            f"produce  {rate:>12,.0f} records/s  (batches of {batch}, "
            f"{value_size}-byte values, {partitions} partitions)"
        )
        rate = await fetch_rate(transport, "bench", records, partitions, 100, 5000)
        print(f"fetch    {rate:>12,.0f} records/s  (max_records=5000)")

        tx = transport.producer(transactional_id="bench-tx")
        t0 = time.perf_counter()
        n = 0
        while n < records:
            await tx.begin()
            for i in range(batch):
                tx.send(ProducerRecord("bench", i % partitions, b"k", value, 0))
            await tx.send_offsets("bench-app", {TopicPartition("bench", 0): n})
            await tx.commit()
            n += batch
        tx_s = time.perf_counter() - t0
        print(f"txn      {n / tx_s:>12,.0f} records/s  (one commit per {batch} records)")
        await transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.records, args.batch, args.value_size, args.partitions))


if __name__ == "__main__":
    main()
