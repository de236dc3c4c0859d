"""A second process for the embedded broker tests: `python embedded_child.py MODE PATH ...`.

Modes:
  hold-lock PATH GROUP TOPIC        subscribe (taking the group lock), print "ready", wait
  produce PATH TOPIC N BATCH TAG    produce N records to partition 0 in batches, then exit
  commit-and-hang PATH TOPIC GROUP  commit a transaction and a plain flush, print
                                    "committed", then wait to be killed
"""

from __future__ import annotations

import asyncio
import sys

from streamz_kit.transport import ProducerRecord, TopicPartition, connect


async def hold_lock(path: str, group: str, topic: str) -> None:
    transport = connect(f"embedded://{path}")
    await transport.start()
    consumer = transport.consumer(group_id=group)

    async def cb(tps: set[TopicPartition]) -> None:
        return None

    await consumer.subscribe([topic], on_assigned=cb, on_revoked=cb)
    await consumer.poll(0)
    print("ready", flush=True)
    await asyncio.sleep(3600)


async def produce(path: str, topic: str, n: int, batch: int, tag: str) -> None:
    transport = connect(f"embedded://{path}")
    await transport.start()
    producer = transport.producer()
    for i in range(n):
        producer.send(ProducerRecord(topic, 0, tag.encode(), f"{tag}-{i}".encode(), i))
        if (i + 1) % batch == 0:
            await producer.flush()
            await asyncio.sleep(0.002)
    await producer.flush()
    await transport.close()


async def commit_and_hang(path: str, topic: str, group: str) -> None:
    transport = connect(f"embedded://{path}")
    await transport.start()
    tx = transport.producer(transactional_id="child-tx")
    await tx.begin()
    for i in range(500):
        tx.send(ProducerRecord(topic, i % 2, b"tx", b"tx-%d" % i, i))
    await tx.send_offsets(group, {TopicPartition("input", 0): 500})
    await tx.commit()
    plain = transport.producer()
    for i in range(300):
        plain.send(ProducerRecord(topic, 0, b"plain", b"plain-%d" % i, i))
    await plain.flush()
    await tx.begin()
    tx.send(ProducerRecord(topic, 0, b"open", b"never-committed", 0))
    print("committed", flush=True)
    await asyncio.sleep(3600)


def main() -> None:
    mode, path, *rest = sys.argv[1:]
    if mode == "hold-lock":
        asyncio.run(hold_lock(path, rest[0], rest[1]))
    elif mode == "produce":
        asyncio.run(produce(path, rest[0], int(rest[1]), int(rest[2]), rest[3]))
    elif mode == "commit-and-hang":
        asyncio.run(commit_and_hang(path, rest[0], rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
