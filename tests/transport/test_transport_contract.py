"""The transport contract: what the runtime relies on from every adapter, through the port only."""

from __future__ import annotations

import asyncio
import time

import pytest
from transport_helpers import Names, poll_until, run_with

from streamz_kit.errors import BrokerError, ProducerFencedError, UnknownTopicError
from streamz_kit.transport import (
    ProducerRecord,
    TopicPartition,
    TopicSpec,
    Transport,
)


def rec(topic: str, partition: int, i: int, **kw: object) -> ProducerRecord:
    return ProducerRecord(topic, partition, b"k%d" % i, b"v%d" % i, 1_000 + i, **kw)  # type: ignore[arg-type]


def test_create_topics_partition_counts_and_list(transport: Transport, names: Names) -> None:
    a, b, missing = names("a"), names("b"), names("missing")

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(a, 3), TopicSpec(b, 1, {"cleanup.policy": "compact"})])
        await admin.create_topics([TopicSpec(a, 5)])  # existing: left as it is
        assert await admin.partition_counts([a, b, missing]) == {a: 3, b: 1}
        listed = await admin.list_topics()
        assert a in listed and b in listed and missing not in listed

    run_with(transport, body)


def test_flush_returns_last_offset_per_partition_contiguously(
    transport: Transport, names: Names
) -> None:
    topic = names("t")

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(topic, 2)])
        producer = t.producer()
        for i in range(5):
            producer.send(rec(topic, i % 2, i))
        assert await producer.flush() == {
            TopicPartition(topic, 0): 2,
            TopicPartition(topic, 1): 1,
        }
        for i in range(3):
            producer.send(rec(topic, 0, i))
        assert await producer.flush() == {TopicPartition(topic, 0): 5}
        assert await producer.flush() == {}
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        assert await admin.list_offsets(tps, "latest") == {tps[0]: 6, tps[1]: 2}
        assert await admin.list_offsets(tps, "earliest") == {tps[0]: 0, tps[1]: 0}
        await producer.close()

    run_with(transport, body)


def test_fetch_from_offsets_with_seek_position_and_max_records(
    transport: Transport, names: Names
) -> None:
    topic = names("t")
    tp = TopicPartition(topic, 0)

    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec(topic, 1)])
        producer = t.producer()
        producer.send(ProducerRecord(topic, 0, None, None, 7, (("h", b"x"), ("e", b""))))
        for i in range(1, 10):
            producer.send(rec(topic, 0, i))
        await producer.flush()
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        assert consumer.assignment() == {tp}
        assert consumer.position(tp) == 0
        first = await consumer.poll(1000, max_records=4)
        got = first[tp]
        assert [r.offset for r in got] == [0, 1, 2, 3]
        assert (got[0].key, got[0].value, got[0].timestamp) == (None, None, 7)
        assert got[0].headers == (("h", b"x"), ("e", b""))
        assert (got[1].key, got[1].value, got[1].timestamp, got[1].headers) == (
            b"k1",
            b"v1",
            1001,
            (),
        )
        assert got[1].topic == topic and got[1].partition == 0
        assert consumer.position(tp) == 4
        consumer.seek(tp, 8)
        rest = await poll_until(consumer, 2)
        assert [(r.offset, r.value) for r in rest] == [(8, b"v8"), (9, b"v9")]
        assert consumer.position(tp) == 10
        started = time.monotonic()
        assert await consumer.poll(150) == {}
        assert 0.1 <= time.monotonic() - started < 2.0
        await consumer.close()

    run_with(transport, body)


def test_poll_wakes_up_for_records_produced_while_it_waits(
    transport: Transport, names: Names
) -> None:
    topic = names("t")
    tp = TopicPartition(topic, 0)

    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec(topic, 1)])
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        producer = t.producer()

        async def produce_later() -> None:
            await asyncio.sleep(0.2)
            producer.send(rec(topic, 0, 1))
            await producer.flush()

        task = asyncio.create_task(produce_later())
        started = time.monotonic()
        got = await consumer.poll(5000)
        assert [r.value for r in got[tp]] == [b"v1"]
        assert time.monotonic() - started < 2.0
        await task

    run_with(transport, body)


def test_pause_and_resume(transport: Transport, names: Names) -> None:
    topic = names("t")
    p0, p1 = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec(topic, 2)])
        producer = t.producer()
        producer.send(rec(topic, 0, 0))
        producer.send(rec(topic, 1, 1))
        await producer.flush()
        consumer = t.consumer(group_id=None)
        consumer.assign([p0, p1])
        consumer.pause([p1])
        got = await poll_until(consumer, 1)
        assert {(r.partition, r.value) for r in got} == {(0, b"v0")}
        assert await consumer.poll(100) == {}
        consumer.resume([p1])
        got = await poll_until(consumer, 1)
        assert [(r.partition, r.value) for r in got] == [(1, b"v1")]

    run_with(transport, body)


def test_committed_offsets_and_restart_from_them(transport: Transport, names: Names) -> None:
    topic, group = names("t"), names("g")
    tp = TopicPartition(topic, 0)

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(topic, 1)])
        producer = t.producer()
        for i in range(6):
            producer.send(rec(topic, 0, i))
        await producer.flush()
        consumer = t.consumer(group_id=group)
        consumer.assign([tp])
        assert await consumer.committed([tp]) == {}
        await poll_until(consumer, 6)
        await consumer.commit({tp: 4})
        assert await consumer.committed([tp]) == {tp: 4}
        assert await admin.committed_offsets(group, [tp]) == {tp: 4}
        await consumer.close()

        again = t.consumer(group_id=group)
        again.assign([tp])
        assert again.position(tp) == 4
        assert [r.offset for r in await poll_until(again, 2)] == [4, 5]
        await again.close()

        await admin.alter_group_offsets(group, {tp: 1})
        assert await admin.committed_offsets(group, [tp]) == {tp: 1}
        await admin.delete_group(group)
        assert await admin.committed_offsets(group, [tp]) == {}

    run_with(transport, body)


def test_transaction_commit_writes_records_and_offsets_together(
    transport: Transport, names: Names
) -> None:
    src, out, group = names("src"), names("out"), names("g")
    src_tp, out_tp = TopicPartition(src, 0), TopicPartition(out, 0)

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(src, 1), TopicSpec(out, 1)])
        producer = t.producer(transactional_id=names("tx"))
        assert producer.transactional
        await producer.begin()
        producer.send(rec(out, 0, 1))
        producer.send(rec(out, 0, 2))
        await producer.send_offsets(group, {src_tp: 10})
        assert await producer.commit() == {out_tp: 1}
        assert await admin.committed_offsets(group, [src_tp]) == {src_tp: 10}
        consumer = t.consumer(group_id=None)
        consumer.assign([out_tp])
        got = await poll_until(consumer, 2)
        assert [(r.offset, r.value) for r in got] == [(0, b"v1"), (1, b"v2")]
        await producer.close()

    run_with(transport, body)


def test_aborted_transaction_is_never_seen(transport: Transport, names: Names) -> None:
    src, out, group = names("src"), names("out"), names("g")
    src_tp, out_tp = TopicPartition(src, 0), TopicPartition(out, 0)

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(src, 1), TopicSpec(out, 1)])
        producer = t.producer(transactional_id=names("tx"))
        await producer.begin()
        producer.send(rec(out, 0, 666))
        await producer.send_offsets(group, {src_tp: 99})
        await producer.abort()
        await producer.begin()
        producer.send(rec(out, 0, 1))
        await producer.send_offsets(group, {src_tp: 3})
        await producer.commit()
        consumer = t.consumer(group_id=None)
        consumer.assign([out_tp])
        got = await poll_until(consumer, 1)
        got += [r for rs in (await consumer.poll(300)).values() for r in rs]
        assert [r.value for r in got] == [b"v1"]
        assert await admin.committed_offsets(group, [src_tp]) == {src_tp: 3}

    run_with(transport, body)


def test_commit_group_commits_each_transaction_and_refuses_only_the_fenced_one(
    transport: Transport, names: Names
) -> None:
    """One commit for several tasks' transactions (exactly_once commits all tasks at once):
    each transaction still goes in whole or not at all, and a fenced producer's records
    and offsets stay out while the others commit."""
    src, out, group = names("src"), names("out"), names("g")
    out0, out1 = TopicPartition(out, 0), TopicPartition(out, 1)
    src0, src1 = TopicPartition(src, 0), TopicPartition(src, 1)

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(src, 2), TopicSpec(out, 2)])
        b_id = names("tx-b")
        a = t.producer(transactional_id=names("tx-a"))
        b = t.producer(transactional_id=b_id)
        await b.init_transactions()
        for i, (producer, out_p, src_tp) in enumerate(((a, 0, src0), (b, 1, src1))):
            await producer.begin()
            producer.send(rec(out, out_p, 10 * i))
            producer.send(rec(out, out_p, 10 * i + 1))
            await producer.send_offsets(group, {src_tp: 5 + i})
        first = await type(a).commit_group([a, b])
        assert first == [{out0: 1}, {out1: 1}]
        newer = t.producer(transactional_id=b_id)  # fences b
        await newer.init_transactions()
        for producer, out_p, src_tp in ((a, 0, src0), (b, 1, src1)):
            await producer.begin()
            producer.send(rec(out, out_p, 7))
            await producer.send_offsets(group, {src_tp: 50})
        second = await type(a).commit_group([a, b])
        assert second[0] == {out0: 2}
        assert isinstance(second[1], ProducerFencedError)
        assert await admin.committed_offsets(group, [src0, src1]) == {src0: 50, src1: 6}
        consumer = t.consumer(group_id=None)
        consumer.assign([out0, out1])
        got = await poll_until(consumer, 5)
        got += [r for rs in (await consumer.poll(300)).values() for r in rs]
        assert sorted((r.partition, r.value) for r in got) == [
            (0, b"v0"),
            (0, b"v1"),
            (0, b"v7"),
            (1, b"v10"),
            (1, b"v11"),
        ]
        for producer in (a, b, newer):
            await producer.close()

    run_with(transport, body)


def test_plain_producer_refuses_transaction_calls(transport: Transport) -> None:
    async def body(t: Transport) -> None:
        producer = t.producer()
        assert not producer.transactional
        with pytest.raises(BrokerError, match="not transactional"):
            await producer.begin()

    run_with(transport, body)


def test_subscribe_assigns_every_partition_inside_poll(transport: Transport, names: Names) -> None:
    a, b, group = names("a"), names("b"), names("g")

    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec(a, 2), TopicSpec(b, 1)])
        producer = t.producer()
        producer.send(rec(b, 0, 5))
        await producer.flush()
        assigned: list[set[TopicPartition]] = []

        async def on_assigned(tps: set[TopicPartition]) -> None:
            assigned.append(tps)

        async def on_revoked(tps: set[TopicPartition]) -> None:
            raise AssertionError("nothing to revoke")

        consumer = t.consumer(group_id=group)
        await consumer.subscribe([a, b], on_assigned=on_assigned, on_revoked=on_revoked)
        got = await poll_until(consumer, 1)
        want = {TopicPartition(a, 0), TopicPartition(a, 1), TopicPartition(b, 0)}
        assert assigned == [want]
        assert consumer.assignment() == want
        assert [r.value for r in got] == [b"v5"]
        await consumer.close()

    run_with(transport, body)


def test_subscribe_to_missing_topic_says_how_to_create_it(
    transport: Transport, names: Names
) -> None:
    missing, group = names("missing"), names("g")

    async def body(t: Transport) -> None:
        consumer = t.consumer(group_id=group)

        async def cb(tps: set[TopicPartition]) -> None:
            return None

        with pytest.raises(UnknownTopicError, match=missing):
            await consumer.subscribe([missing], on_assigned=cb, on_revoked=cb)
            await consumer.poll(500)
        await consumer.close()

    run_with(transport, body)


def test_delete_topics(transport: Transport, names: Names) -> None:
    keep, gone = names("keep"), names("gone")

    async def body(t: Transport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec(keep, 1), TopicSpec(gone, 2)])
        producer = t.producer()
        producer.send(rec(gone, 1, 1))
        await producer.flush()
        await admin.delete_topics([gone])
        assert await admin.partition_counts([keep, gone]) == {keep: 1}
        assert gone not in await admin.list_topics()
        await admin.create_topics([TopicSpec(gone, 1)])  # a new topic with the old name
        assert await admin.list_offsets([TopicPartition(gone, 0)], "latest") == {
            TopicPartition(gone, 0): 0
        }

    run_with(transport, body)
