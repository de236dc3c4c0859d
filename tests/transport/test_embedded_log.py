"""Embedded broker in one process: URLs, fencing, compaction, file modes, unusable paths."""

from __future__ import annotations

import os
import stat
import sys
import time
import types
from pathlib import Path

import pytest
from transport_helpers import poll_until, run_with

from streamz_kit.errors import BrokerError, ConfigError, ProducerFencedError, UnknownTopicError
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, Transport, connect
from streamz_kit.transport.embedded import EmbeddedTransport


def test_connect_embedded_resolves_relative_paths_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    transport = connect("embedded://.streamz")
    assert isinstance(transport, EmbeddedTransport)
    assert transport.url == f"embedded://{tmp_path / '.streamz'}"
    monkeypatch.chdir("/")
    run_with(transport, lambda t: t.admin().create_topics([TopicSpec("x", 1)]))
    assert (tmp_path / ".streamz" / "log.db").exists()
    assert connect(f"embedded://{tmp_path}/abs").url == f"embedded://{tmp_path}/abs"


def test_connect_kafka_imports_the_adapter_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    class FakeKafkaTransport:
        def __init__(self, bootstrap_servers: str, **client_config: object) -> None:
            calls.append((bootstrap_servers, client_config))

    fake = types.ModuleType("streamz_kit.transport.kafka")
    fake.KafkaTransport = FakeKafkaTransport  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "streamz_kit.transport.kafka", fake)
    result = connect("kafka://h1:9092, h2:9093", security_protocol="SASL_SSL")
    assert isinstance(result, FakeKafkaTransport)
    assert calls == [("h1:9092,h2:9093", {"security_protocol": "SASL_SSL"})]


@pytest.mark.parametrize("url", ["http://x", ".streamz", "embedded://", "kafka://", ""])
def test_connect_rejects_other_urls_naming_both_forms(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        connect(url)
    assert "embedded://PATH" in str(info.value) and "kafka://host:port" in str(info.value)


def test_newer_producer_fences_the_older_one(tmp_path: Path) -> None:
    url = f"embedded://{tmp_path / 'b'}"

    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec("out", 1)])
        old = t.producer(transactional_id="app-0_1")
        await old.begin()
        old.send(ProducerRecord("out", 0, b"k", b"zombie", 1))
        other = connect(url)  # the newer one may live in another connection or process
        await other.start()
        new = other.producer(transactional_id="app-0_1")
        with pytest.raises(ProducerFencedError, match="app-0_1"):
            await old.commit()
        with pytest.raises(ProducerFencedError):
            await old.begin()
        with pytest.raises(ProducerFencedError):
            old.send(ProducerRecord("out", 0, b"k", b"zombie", 1))
        await new.begin()
        new.send(ProducerRecord("out", 0, b"k", b"fresh", 2))
        await new.send_offsets("app", {TopicPartition("in", 0): 7})
        assert await new.commit() == {TopicPartition("out", 0): 0}
        await other.close()
        consumer = t.consumer(group_id=None)
        consumer.assign([TopicPartition("out", 0)])
        got = await poll_until(consumer, 1)
        got += [r for rs in (await consumer.poll(100)).values() for r in rs]
        assert [r.value for r in got] == [b"fresh"]
        other_id = t.producer(transactional_id="app-0_2")  # other ids are not fenced
        await other_id.begin()
        await other_id.commit()

    run_with(connect(url), body)


def test_transactional_producer_guards_its_lifecycle(tmp_path: Path) -> None:
    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec("out", 1)])
        tx = t.producer(transactional_id="tx")
        with pytest.raises(BrokerError, match="begin"):
            tx.send(ProducerRecord("out", 0, None, b"v", 0))
        with pytest.raises(BrokerError, match="begin"):
            await tx.commit()
        await tx.begin()
        with pytest.raises(BrokerError, match="commit"):
            await tx.begin()
        tx.send(ProducerRecord("out", 0, None, b"v", 0))
        assert await tx.flush() == {}  # records are written by commit, not flush
        assert await tx.commit() == {TopicPartition("out", 0): 0}

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)


def test_flush_to_a_missing_topic_or_partition_writes_nothing(tmp_path: Path) -> None:
    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec("out", 2)])
        producer = t.producer()
        producer.send(ProducerRecord("out", 0, None, b"ok", 0))
        producer.send(ProducerRecord("nope", 0, None, b"v", 0))
        with pytest.raises(UnknownTopicError, match="streamz-kit produce nope"):
            await producer.flush()
        producer.send(ProducerRecord("out", 2, None, b"v", 0))
        with pytest.raises(UnknownTopicError, match="2 partition"):
            await producer.flush()
        producer.send(ProducerRecord("out", 0, None, b"ok", 0))
        assert await producer.flush() == {TopicPartition("out", 0): 0}

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)


def test_compaction_keeps_the_latest_value_per_key(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    tp = TopicPartition("table", 0)

    async def body(t: EmbeddedTransport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec("table", 1, {"cleanup.policy": "compact"})])
        producer = t.producer()
        sends = [
            (b"a", b"a1", now),
            (b"b", b"b1", now),
            (b"a", b"a2", now),
            (b"c", b"c1", now),
            (None, b"no-key", now),
            (b"c", None, 1),
            (b"d", b"d1", now),
            (b"d", None, now),
            (b"a", b"a3", now),
        ]
        for key, value, ts in sends:
            producer.send(ProducerRecord("table", 0, key, value, ts))
        await producer.flush()
        assert await admin.compact(["table"]) == 5
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        got = [(r.offset, r.key, r.value) for r in await poll_until(consumer, 4)]
        # offsets are kept; c's old tombstone is gone, d's recent one stays
        assert got == [(1, b"b", b"b1"), (4, None, b"no-key"), (7, b"d", None), (8, b"a", b"a3")]
        assert await admin.list_offsets([tp], "earliest") == {tp: 1}
        assert await admin.list_offsets([tp], "latest") == {tp: 9}
        consumer.seek(tp, 0)  # a position in a gap reads on from the next record
        assert [r.offset for r in await poll_until(consumer, 4)] == [1, 4, 7, 8]

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]


def test_producers_compact_once_enough_was_written(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        t.log.compact_min_dirty = 50
        await t.admin().create_topics([TopicSpec("cl", 1, {"cleanup.policy": "compact"})])
        await t.admin().create_topics([TopicSpec("plain", 1)])
        producer = t.producer()
        for i in range(120):
            producer.send(ProducerRecord("cl", 0, b"k%d" % (i % 3), b"%d" % i, 1))
            producer.send(ProducerRecord("plain", 0, b"k", b"%d" % i, 1))
            if i % 10 == 9:
                await producer.flush()
        count = t.log.db.read(
            lambda c: c.execute(
                "SELECT t.name, SUM(b.count) FROM batches b JOIN topics t ON t.id = b.topic_id "
                "GROUP BY t.name"
            ).fetchall()
        )
        cl = dict(count)["cl"]
        assert dict(count)["plain"] == 120
        assert 3 <= cl < 60  # compacted at least once; never below one per key

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen them
    try:
        root = tmp_path / "deep" / "broker"

        async def body(t: Transport) -> None:
            await t.admin().create_topics([TopicSpec("x", 1)])
            producer = t.producer()
            producer.send(ProducerRecord("x", 0, None, b"v", 0))
            await producer.flush()
            consumer = t.consumer(group_id="app")

            async def cb(tps: set[TopicPartition]) -> None:
                return None

            await consumer.subscribe(["x"], on_assigned=cb, on_revoked=cb)
            assert mode(root) == 0o700
            assert mode(root / "groups") == 0o700
            for name in ("log.db", "log.db-wal", "log.db-shm", "groups/app.lock"):
                assert mode(root / name) == 0o600, name

        run_with(connect(f"embedded://{root}"), body)
    finally:
        os.umask(old_umask)


def test_unusable_broker_path_is_a_broker_error_with_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    transport = connect(f"embedded://{blocker / 'broker'}")
    with pytest.raises(BrokerError, match=r"cannot create its directory .*embedded://PATH"):
        run_with(transport, lambda t: t.admin().list_topics())
    with pytest.raises(BrokerError, match="cannot"):
        run_with(connect(f"embedded://{blocker}"), lambda t: t.admin().list_topics())
