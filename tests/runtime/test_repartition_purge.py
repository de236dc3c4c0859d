"""Repartition topics are purged up to the committed offsets (Kafka Streams' deleteRecords
after commit), so they hold only records in flight; nothing not yet committed is deleted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.config import AppConfig
from streamz_kit.errors import ConfigError
from streamz_kit.runtime.purge import RepartitionPurge
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect

APP = "purge-app"
REPARTITION = f"{APP}-by-region-repartition"
N = 600


def _topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .group_by(lambda k, v: v["region"], key_serde=serdes.STRING)
        .count(materialized=sk.Materialized("by-region"))
        .to_stream()
        .to("region-counts", value_serde=serdes.LONG)
    )
    return builder.build()


def test_repartition_records_are_deleted_once_committed(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"

    async def go() -> None:
        transport = connect(broker)
        await transport.start()
        admin = transport.admin()
        await admin.create_topics([TopicSpec("orders", 2)])
        producer = transport.producer()
        now = int(time.time() * 1000)
        for i in range(N):
            value = orjson.dumps({"region": f"r{i % 5}"})
            producer.send(ProducerRecord("orders", i % 2, b"u%d" % i, value, now))
        await producer.flush()
        app = sk.App(
            _topology(),
            application_id=APP,
            broker=broker,
            state_dir=tmp_path / "s",
            commit_interval_ms=20,
            repartition_purge_interval_ms=0,
        )
        await app.start()
        assert app._worker is not None and app._worker.tasks is not None
        purge = app._worker.tasks.purge
        deadline = time.monotonic() + 30
        tps = [TopicPartition(REPARTITION, p) for p in range(2)]
        while time.monotonic() < deadline:
            counts = await admin.partition_counts([REPARTITION])
            if counts and sum((await admin.list_offsets(tps, "latest")).values()) == N:
                committed = await admin.committed_offsets(APP, tps)
                if sum(committed.values()) == N and purge.purged:
                    break
            await asyncio.sleep(0.05)
        # While running: purged up to the committed offsets, never past them.
        states = {(s.topic, s.partition): s for s in await admin.describe_partitions([REPARTITION])}
        committed = await admin.committed_offsets(APP, tps)
        for tp in tps:
            assert states[tp].start_offset <= committed.get(tp, 0)
        await app.stop()
        # At stop the last commit purged everything: the topic holds nothing, keeps its end.
        states = {(s.topic, s.partition): s for s in await admin.describe_partitions([REPARTITION])}
        committed = await admin.committed_offsets(APP, tps)
        assert sum(committed.values()) == N
        for tp in tps:
            assert states[tp].start_offset == states[tp].end_offset == committed[tp]
            assert states[tp].bytes == 0
        # Nothing lost on the way: every order is counted.
        consumer = transport.consumer(group_id=None)
        consumer.assign([TopicPartition("region-counts", p) for p in range(2)])
        latest: dict[bytes, int] = {}
        while got := await consumer.poll(200):
            for records in got.values():
                for r in records:
                    assert r.key is not None and r.value is not None
                    latest[r.key] = serdes.LONG.deserialize("region-counts", r.value)
        await consumer.close()
        assert latest == {b"r%d" % i: N // 5 for i in range(5)}
        spec = (await admin.topic_configs([REPARTITION]))[REPARTITION]
        assert spec == {"cleanup.policy": "delete", "retention.ms": "-1"}  # Kafka Streams'
        await admin.close()
        await transport.close()

    asyncio.run(go())


def test_only_committed_repartition_offsets_are_purged_and_failures_retry(tmp_path: Path) -> None:
    class Admin:
        def __init__(self) -> None:
            self.calls: list[dict[TopicPartition, int]] = []
            self.fail = True

        async def delete_records(self, offsets: dict[TopicPartition, int]) -> None:
            self.calls.append(dict(offsets))
            if self.fail:
                self.fail = False
                from streamz_kit.errors import BrokerError

                raise BrokerError("busy")

        async def close(self) -> None:
            return None

    admin = Admin()

    class Transport:
        def admin(self) -> Admin:
            return admin

    purge = RepartitionPurge(Transport(), {"a-x-repartition"}, 0)  # type: ignore[arg-type]
    rep, other = TopicPartition("a-x-repartition", 0), TopicPartition("in", 0)

    async def go() -> None:
        await purge.maybe_purge()
        await purge.settle()
        assert admin.calls == []  # nothing committed yet
        purge.committed({rep: 5, other: 9})
        await purge.maybe_purge()  # fails: kept for the next time
        await purge.settle()  # (the deletion runs beside the worker loop)
        purge.committed({rep: 7})
        await purge.maybe_purge()
        await purge.settle()
        assert admin.calls == [{rep: 5}, {rep: 7}]

    asyncio.run(go())
    assert purge.purged == 1


def test_a_negative_purge_interval_is_refused() -> None:
    try:
        AppConfig.build(application_id="a", repartition_purge_interval_ms=-1)
    except ConfigError as exc:
        assert "repartition_purge_interval_ms" in str(exc)
    else:
        raise AssertionError("a negative purge interval was accepted")
