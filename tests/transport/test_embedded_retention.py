"""Retention on the embedded log, rule by rule, against Kafka's documented behaviour.

Each `flush` of records for one partition is one batch, so the tests build logs batch by batch
and run retention at a chosen wall-clock time (`cleaner.run(now_ms=...)`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest
from transport_helpers import run_with

from streamz_kit.errors import BrokerError, ConfigError
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect
from streamz_kit.transport.embedded import EmbeddedTransport
from streamz_kit.transport.embedded.cleaner import PURGE_BATCHES
from streamz_kit.transport.embedded.retention import DEFAULT_RETENTION_MS, RECLAIM_PAGES

NOW = 1_900_000_000_000
DAY = 86_400_000
TP = TopicPartition("t", 0)


def _transport(tmp_path: Path) -> EmbeddedTransport:
    t = connect(f"embedded://{tmp_path / 'b'}")
    assert isinstance(t, EmbeddedTransport)
    return t


async def _batch(t: EmbeddedTransport, timestamps: list[int], value: bytes = b"v") -> None:
    producer = t.producer()
    for ts in timestamps:
        producer.send(ProducerRecord("t", 0, b"k%d" % ts, value, ts))
    await producer.flush()


async def _offsets(t: EmbeddedTransport, tp: TopicPartition = TP) -> list[int]:
    consumer = t.consumer(group_id=None)
    consumer.assign([tp])
    consumer.seek(tp, (await t.admin().list_offsets([tp], "earliest"))[tp])
    out: list[int] = []
    while True:
        got = (await consumer.poll(0)).get(tp, [])
        if not got:
            break
        out.extend(r.offset for r in got)
    await consumer.close()
    return out


async def _start(t: EmbeddedTransport) -> int:
    return (await t.admin().list_offsets([TP], "earliest"))[TP]


# -- settings ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("retention.ms", "5m", "retention.ms must be a whole number"),
        ("retention.ms", "1.5", "retention.ms must be a whole number"),
        ("retention.ms", "-2", "retention.ms must be at least -1"),
        ("retention.bytes", "lots", "retention.bytes must be a whole number"),
        ("retention.bytes", "-5", "retention.bytes must be at least -1"),
        ("cleanup.policy", "forever", "cleanup.policy must be"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(
    tmp_path: Path, key: str, value: str, said: str
) -> None:
    async def body(t: EmbeddedTransport) -> None:
        with pytest.raises(ConfigError, match=said):
            await t.admin().create_topics([TopicSpec("t", 1, {key: value})])
        assert "t" not in await t.admin().list_topics()
        await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "1000"})])
        with pytest.raises(ConfigError, match=said):
            await t.admin().alter_topic_config("t", {key: value})
        assert (await t.admin().topic_configs(["t"]))["t"] == {"retention.ms": "1000"}

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_minus_one_means_unbounded_and_settings_can_change_later(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics(
            [TopicSpec("t", 1, {"retention.ms": "-1", "retention.bytes": "-1"})]
        )
        await _batch(t, [1, 2])
        await t.log.cleaner.run(now_ms=NOW)
        assert await _offsets(t) == [0, 1]
        await t.admin().alter_topic_config("t", {"retention.ms": "1000"})
        await t.log.cleaner.run(now_ms=NOW)
        assert await _offsets(t) == [] and await _start(t) == 2

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


# -- time ---------------------------------------------------------------------------------
def test_default_retention_is_seven_days_by_the_batch_newest_timestamp(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        assert DEFAULT_RETENTION_MS == 7 * DAY
        await t.admin().create_topics([TopicSpec("t", 1)])
        await _batch(t, [NOW - 9 * DAY, NOW - 8 * DAY])  # 0-1: past 7 days
        await _batch(t, [NOW - 9 * DAY, NOW - 6 * DAY])  # 2-3: newest within
        await _batch(t, [NOW - 8 * DAY])  # 4: old, after a kept one
        await t.log.cleaner.run(now_ms=NOW)
        # Whole batches go, oldest first, and the walk stops at the first batch that stays
        # (Kafka stops at the first segment that must stay).
        assert await _offsets(t) == [2, 3, 4]
        assert await _start(t) == 2

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_nothing_goes_before_its_retention_passes(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "60000"})])
        await _batch(t, [NOW - 60_000])  # exactly at the limit: Kafka deletes only past it
        await _batch(t, [NOW + 3_600_000])  # stamped in the future: kept
        await t.log.cleaner.run(now_ms=NOW)
        assert await _offsets(t) == [0, 1]
        await t.log.cleaner.run(now_ms=NOW + 1)
        assert await _offsets(t) == [1]

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_when_every_batch_expired_the_partition_is_empty_and_keeps_its_offsets(
    tmp_path: Path,
) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "1000"})])
        await _batch(t, [NOW - 5000] * 3)
        await t.log.cleaner.run(now_ms=NOW)
        assert await _start(t) == 3
        assert (await t.admin().list_offsets([TP], "latest"))[TP] == 3
        await _batch(t, [NOW])
        assert await _offsets(t) == [3]  # offsets go on from the end, never reused
        [state] = await t.admin().describe_partitions(["t"])
        assert (state.start_offset, state.end_offset) == (3, 4) and state.bytes

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


# -- size ---------------------------------------------------------------------------------
def test_size_retention_deletes_oldest_while_the_rest_still_exceeds_the_limit(
    tmp_path: Path,
) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "-1"})])
        for _ in range(4):
            await _batch(t, [NOW] * 10, value=b"x" * 100)
        [state] = await t.admin().describe_partitions(["t"])
        assert state.bytes is not None
        one = state.bytes // 4
        # Kafka: delete a segment only if the log still holds >= retention.bytes without it.
        await t.admin().alter_topic_config("t", {"retention.bytes": str(2 * one + 1)})
        await t.log.cleaner.run(now_ms=NOW)
        assert await _start(t) == 10  # 4 -> 3 batches; 3 -> 2 would fall below the limit
        await t.admin().alter_topic_config("t", {"retention.bytes": str(2 * one)})
        await t.log.cleaner.run(now_ms=NOW)
        assert await _start(t) == 20
        [state] = await t.admin().describe_partitions(["t"])
        assert state.bytes == 2 * one
        await t.admin().alter_topic_config("t", {"retention.bytes": "0"})
        await t.log.cleaner.run(now_ms=NOW)  # as Kafka: 0 bytes keeps nothing
        assert await _offsets(t) == [] and await _start(t) == 40

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


# -- policies -----------------------------------------------------------------------------
def test_compact_alone_never_deletes_by_age_and_compact_delete_does(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics(
            [
                TopicSpec("t", 1, {"cleanup.policy": "compact", "retention.ms": "1000"}),
            ]
        )
        await _batch(t, [NOW - 5000])
        await t.log.cleaner.run(now_ms=NOW)
        assert await _offsets(t) == [0]
        with pytest.raises(BrokerError, match=r"cleanup.policy"):
            await t.admin().delete_records({TP: 1})
        await t.admin().alter_topic_config("t", {"cleanup.policy": "delete,compact"})
        assert (await t.admin().topic_configs(["t"]))["t"]["cleanup.policy"] == "compact,delete"
        await t.log.cleaner.run(now_ms=NOW)
        assert await _offsets(t) == []

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


# -- delete_records -----------------------------------------------------------------------
def test_delete_records_moves_the_start_inside_a_batch_and_reads_follow(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec("t", 1)])
        await _batch(t, [NOW] * 5)
        await _batch(t, [NOW] * 5)
        assert await admin.delete_records({TP: 3}) == {TP: 3}
        assert await _offsets(t) == list(range(3, 10))
        assert await admin.delete_records({TP: 2}) == {TP: 3}  # never moves back
        rows = t.log.db.read(lambda c: c.execute("SELECT count(*) FROM batches").fetchone()[0])
        assert rows == 2  # the first batch still holds offsets 3-4
        assert await admin.delete_records({TP: 5}) == {TP: 5}
        rows = t.log.db.read(lambda c: c.execute("SELECT count(*) FROM batches").fetchone()[0])
        assert rows == 1
        with pytest.raises(BrokerError, match="end offset is 10"):
            await admin.delete_records({TP: 11})
        assert await admin.delete_records({TP: -1}) == {TP: 10}
        assert await _offsets(t) == []

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_delete_records_of_many_batches_runs_in_bounded_transactions(tmp_path: Path) -> None:
    """A purge of more than PURGE_BATCHES batches takes several write transactions (the
    writer's event loop runs between them) and ends where one would have; a refused
    partition deletes nothing anywhere."""
    batches = 2 * PURGE_BATCHES + 10

    async def body(t: EmbeddedTransport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec("t", 1), TopicSpec("u", 1)])
        for _ in range(batches):
            await _batch(t, [NOW] * 2)
        target = 2 * (batches - 3) + 1  # inside a batch near the end
        with pytest.raises(BrokerError, match="end offset is 0"):
            await admin.delete_records({TP: target, TopicPartition("u", 0): 5})
        assert (await _offsets(t))[0] == 0  # nothing deleted
        writes = t.log.db.local_writes
        assert await admin.delete_records({TP: target}) == {TP: target}
        assert t.log.db.local_writes - writes >= 3  # bounded transactions, not one
        assert await _offsets(t) == list(range(target, 2 * batches))
        rows = t.log.db.read(lambda c: c.execute("SELECT count(*) FROM batches").fetchone()[0])
        assert rows == 3  # the batch holding `target` and the two after it

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


# -- consumers that fell off the start ------------------------------------------------------
def test_a_position_before_the_start_resets_per_auto_offset_reset_with_one_warning(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def body(t: EmbeddedTransport) -> None:
        admin = t.admin()
        await admin.create_topics([TopicSpec("t", 1)])
        await _batch(t, [NOW] * 10)
        group = t.consumer(group_id="g")
        group.assign([TP])
        await group.commit({TP: 2})
        await group.close()
        await admin.delete_records({TP: 6})

        earliest = t.consumer(group_id="g")
        earliest.assign([TP])  # starts at the committed 2, which is gone
        with caplog.at_level(logging.WARNING, logger="streamz_kit.embedded"):
            got = (await earliest.poll(1000)).get(TP, [])
        assert [r.offset for r in got] == [6, 7, 8, 9]
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "Position 2 of t[0] of group 'g' lies before the log start offset 6" in warnings[0]
        assert "auto_offset_reset='earliest'" in warnings[0]

        latest = t.consumer(group_id=None)
        latest.assign([TP])
        latest.seek(TP, 1)
        latest.auto_offset_reset = "latest"  # type: ignore[attr-defined]
        assert await latest.poll(0) == {}
        assert latest.position(TP) == 10

        strict = t.consumer(group_id=None)
        strict.assign([TP])
        strict.seek(TP, 0)
        strict.auto_offset_reset = "none"  # type: ignore[attr-defined]
        with pytest.raises(BrokerError, match=r"t\[0\] position 0 lies before its log start"):
            await strict.poll(0)

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_auto_offset_reset_comes_from_the_client_config(tmp_path: Path) -> None:
    t = connect(f"embedded://{tmp_path / 'b'}", auto_offset_reset="latest")
    assert t.consumer(group_id=None).auto_offset_reset == "latest"  # type: ignore[attr-defined]
    with pytest.raises(BrokerError, match="auto_offset_reset must be"):
        connect(f"embedded://{tmp_path / 'b'}", auto_offset_reset="oldest").consumer(group_id=None)


# -- space --------------------------------------------------------------------------------
def test_deleted_batches_give_their_space_back_to_the_file_system(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "1000"})])
        for _i in range(40):  # 8 MB: several vacuum transactions (RECLAIM_PAGES each)
            await _batch(t, [NOW - 10_000] * 50, value=os.urandom(4000))
        await _batch(t, [NOW], value=b"kept")
        t.log.db.read(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        before = os.path.getsize(t.log.db.db_path)
        result = await t.log.cleaner.run(now_ms=NOW)
        assert result.records == 2000 and result.pages_reclaimed > 3 * RECLAIM_PAGES
        t.log.db.read(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        after = os.path.getsize(t.log.db.db_path)
        assert after < before / 5, (before, after)
        assert await _offsets(t) == [2000]

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]


def test_a_log_without_auto_vacuum_is_converted_once_at_open(tmp_path: Path) -> None:
    async def fill(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1)])
        await _batch(t, [NOW] * 3)

    run_with(_transport(tmp_path), fill)  # type: ignore[arg-type]
    db = tmp_path / "b" / "log.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA auto_vacuum=NONE")
    conn.execute("VACUUM")
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()

    async def check(t: EmbeddedTransport) -> None:
        mode = t.log.db.read(lambda c: c.execute("PRAGMA auto_vacuum").fetchone()[0])
        assert mode == 2  # incremental
        assert await _offsets(t) == [0, 1, 2]

    run_with(_transport(tmp_path), check)  # type: ignore[arg-type]


# -- older logs -----------------------------------------------------------------------------
def test_a_schema_2_log_gains_start_offsets_sizes_and_retention(tmp_path: Path) -> None:
    """A log written before retention: its batches have no newest timestamp (read from the
    payload when retention first looks), its partitions no size or start (computed at open)."""

    async def fill(t: EmbeddedTransport) -> None:
        await t.admin().create_topics(
            [TopicSpec("t", 1, {"cleanup.policy": "compact,delete", "retention.ms": "1000"})]
        )
        await _batch(t, [NOW - 5000] * 3)
        await _batch(t, [NOW] * 2)

    run_with(_transport(tmp_path), fill)  # type: ignore[arg-type]
    conn = sqlite3.connect(tmp_path / "b" / "log.db")
    sizes = conn.execute("SELECT sum(length(payload)) FROM batches").fetchone()[0]
    conn.execute("DELETE FROM batches WHERE base_offset = 0")  # as compaction might have
    for table, column in (
        ("partitions", "start_offset"),
        ("partitions", "bytes"),
        ("batches", "max_ts"),
    ):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()

    async def check(t: EmbeddedTransport) -> None:
        [state] = await t.admin().describe_partitions(["t"])
        assert (state.start_offset, state.end_offset) == (3, 5)
        assert state.bytes is not None and 0 < state.bytes < sizes
        assert await _offsets(t) == [3, 4]
        await _batch(t, [NOW - 9000])  # a new batch, with its newest timestamp stored
        assert (await t.log.cleaner.run(now_ms=NOW)).records == 0  # 3-4 are recent: walk stops
        assert await _offsets(t) == [3, 4, 5]
        assert (await t.log.cleaner.run(now_ms=NOW + 2000)).records == 3
        [state] = await t.admin().describe_partitions(["t"])
        assert (state.start_offset, state.bytes) == (6, 0)

    run_with(_transport(tmp_path), check)  # type: ignore[arg-type]


def test_compaction_keeps_the_partition_size_exact(tmp_path: Path) -> None:
    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1, {"cleanup.policy": "compact"})])
        producer = t.producer()
        for i in range(300):
            producer.send(ProducerRecord("t", 0, b"k%d" % (i % 7), b"v" * 50, NOW))
            if i % 50 == 49:
                await producer.flush()
        assert await t.admin().compact(["t"]) == 293
        [state] = await t.admin().describe_partitions(["t"])
        real = t.log.db.read(
            lambda c: c.execute("SELECT sum(length(payload)) FROM batches").fetchone()[0]
        )
        assert state.bytes == real
        assert await _start(t) == 293  # the first record still there (compaction moves no start)

    run_with(_transport(tmp_path), body)  # type: ignore[arg-type]
