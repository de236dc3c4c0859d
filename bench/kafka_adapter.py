"""Records/s through the Kafka adapter: produce in batches, then consume everything back.

Usage: python bench/kafka_adapter.py [--bootstrap HOST:PORT] [--records N] [--batch B]
       [--value-size S] [--partitions P]
Without --bootstrap it starts a private Apache Kafka broker (interop/kafka_broker.py) on a
free port.
Prints one line per workload.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from pathlib import Path

from embedded_log import fetch_rate, produce_rate

from streamz_kit.transport import TopicSpec
from streamz_kit.transport.kafka import KafkaTransport


async def run(bootstrap: str, records: int, batch: int, value_size: int, partitions: int) -> None:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    transport = KafkaTransport(bootstrap)
    try:
        await transport.start()
        await transport.admin().create_topics([TopicSpec(topic, partitions)])
        value = os.urandom(value_size)
        rate = await produce_rate(transport, topic, records, batch, value, partitions)
        print(
            f"kafka-adapter produce: {rate:,.0f} records/s "
            f"({records} records, batch {batch}, {value_size} B values, {partitions} partitions)"
        )
        rate = await fetch_rate(transport, topic, records, partitions, 500, 10_000)
        print(f"kafka-adapter consume: {rate:,.0f} records/s ({records} records)")
    finally:
        await transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    if args.bootstrap:
        asyncio.run(run(args.bootstrap, args.records, args.batch, args.value_size, args.partitions))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from interop.kafka_broker import KafkaBroker

    with KafkaBroker() as bootstrap:
        asyncio.run(run(bootstrap, args.records, args.batch, args.value_size, args.partitions))


if __name__ == "__main__":
    main()
