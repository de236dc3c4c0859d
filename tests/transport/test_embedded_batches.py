"""The embedded log stores batches: the codec, fetching inside batches, compaction across
batches, the schema-1 migration, and damage caught by the batch checksum."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transport_helpers import run_with

from streamz_kit.errors import BrokerError
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect
from streamz_kit.transport.embedded import EmbeddedTransport
from streamz_kit.transport.embedded import batch_codec as bc
from streamz_kit.transport.embedded.codec import encode_headers
from streamz_kit.transport.embedded.db import SCHEMA_VERSION

# -- codec -----------------------------------------------------------------------------------

blob = st.one_of(
    st.none(), st.just(b""), st.binary(max_size=40), st.binary(min_size=3000, max_size=5000)
)
headers = st.one_of(
    st.just(()),
    st.lists(
        st.tuples(st.text(max_size=5), st.one_of(st.none(), st.binary(max_size=8))),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
record = st.tuples(st.integers(1, 50), st.integers(-(2**63), 2**63 - 1), blob, blob, headers)


@settings(max_examples=300, deadline=None)
@given(base=st.integers(0, 2**40), records=st.lists(record, min_size=1, max_size=60))
def test_codec_round_trips_every_column(base: int, records: list[Any]) -> None:
    offsets, o = [], base
    for gap, *_ in records:
        offsets.append(o)
        o += gap  # gaps as compaction leaves them; gap 1 everywhere is the contiguous case
    tss = [r[1] for r in records]
    keys = [r[2] for r in records]
    values = [r[3] for r in records]
    hdrs = [r[4] for r in records]
    blobs = [encode_headers(h) for h in hdrs] if any(hdrs) else None
    payload = bc.encode(base, offsets, tss, keys, values, blobs)
    got = bc.decode(payload, base)
    assert list(got.offsets) == offsets
    assert list(got.timestamps) == tss
    assert list(got.keys) == keys and list(got.values) == values
    if blobs is None:
        assert got.headers is None
    else:
        assert list(got.headers or ()) == hdrs
        raw = bc.decode(payload, base, headers=False).headers
        assert [b or None for b in raw or ()] == blobs
    cut = got.cut(len(records) // 2)
    assert list(cut.offsets) == offsets[len(records) // 2 :]
    assert list(cut.keys) == keys[len(records) // 2 :]
    # compaction's first pass reads only offsets and keys (null keys included)
    only = bc.decode(payload, base, keys_only=True)
    assert list(only.offsets) == offsets and list(only.keys) == keys
    assert list(only.timestamps) == tss
    assert list(only.values) == [-1 if v is None else len(v) for v in values]  # lengths
    # what compaction keeps of a batch: the records at chosen offsets, header blobs raw
    picked = [i for i in range(len(records)) if (records[i][0] + i) % 3]
    some = bc.decode(payload, base, select=[offsets[i] for i in picked])
    assert list(some.offsets) == [offsets[i] for i in picked]
    assert list(some.timestamps) == [tss[i] for i in picked]
    assert list(some.keys) == [keys[i] for i in picked]
    assert list(some.values) == [values[i] for i in picked]
    if blobs is None:
        assert some.headers is None
    else:
        assert [b or None for b in some.headers or ()] == [blobs[i] for i in picked]


@settings(max_examples=200, deadline=None)
@given(pos=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_caught_by_the_checksum(pos: float, bit: int) -> None:
    payload = bytearray(bc.encode(7, None, [1, 2], [b"k", None], [b"value", b""], None))
    i = int(pos * len(payload))
    payload[i] ^= 1 << bit
    with pytest.raises(bc.DamagedBatch):
        bc.decode(bytes(payload), 7)


def test_a_batch_moved_to_another_offset_or_partition_is_caught() -> None:
    payload = bc.encode(7, None, [1], [b"k"], [b"v"], None, (3, 1))
    assert list(bc.decode(payload, 7, where=(3, 1)).values) == [b"v"]
    for base, where in [(8, (3, 1)), (7, (3, 0)), (7, (4, 1))]:
        with pytest.raises(bc.DamagedBatch):
            bc.decode(payload, base, where=where)
    with pytest.raises(bc.DamagedBatch):
        bc.decode(b"\x01\x00", 7)


def test_pack_caps_records_and_bytes_per_batch() -> None:
    n = bc.MAX_RECORDS * 2 + 5
    rows = bc.pack(range(10, 10 + n), [0] * n, [b"k"] * n, [b"v"] * n, None, (1, 2))
    assert [r[:2] for r in rows] == [(1, 2)] * 3
    assert [r[4] for r in rows] == [bc.MAX_RECORDS, bc.MAX_RECORDS, 5]
    assert [(r[2], r[3]) for r in rows] == [(10, 2009), (2010, 4009), (4010, 4014)]
    big = b"x" * (bc.MAX_BYTES // 3)
    values = [big] * 6 + [b"x" * (bc.MAX_BYTES * 2)]
    rows = bc.pack(range(7), [0] * 7, [None] * 7, values, None, (1, 0))
    assert sum(r[4] for r in rows) == 7
    assert all(len(r[5]) <= bc.MAX_BYTES or r[4] == 1 for r in rows)
    assert [r[2] for r in rows] == sorted(r[2] for r in rows)
    decoded = [v for r in rows for v in bc.decode(r[5], r[2], where=(1, 0)).values]
    assert decoded == values


# -- the log ---------------------------------------------------------------------------------


def _produce(
    t: EmbeddedTransport, topic: str, records: list[tuple[Any, Any]], flush_every: int
) -> Any:
    async def go() -> None:
        producer = t.producer()
        for i, (k, v) in enumerate(records):
            producer.send(
                ProducerRecord(topic, 0, k, v, 1000 + i, (("i", b"%d" % i),) if i % 7 == 0 else ())
            )
            if (i + 1) % flush_every == 0:
                await producer.flush()
        await producer.flush()

    return go()


async def _read(consumer: Any, tp: TopicPartition, max_records: int) -> list[Any]:
    out: list[Any] = []
    while True:
        got = (await consumer.poll(0, max_records=max_records)).get(tp, [])
        if not got:
            return out
        assert len(got) <= max_records
        out.extend(got)


def test_fetch_starts_inside_a_batch_and_max_records_cuts_and_continues(tmp_path: Path) -> None:
    tp = TopicPartition("t", 0)
    n = bc.MAX_RECORDS * 2 + 500

    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1)])
        await _produce(t, "t", [(b"k%d" % i, b"v%d" % i) for i in range(n)], n)
        rows = t.log.db.read(lambda c: c.execute("SELECT count FROM batches").fetchall())
        assert [r[0] for r in rows] == [bc.MAX_RECORDS, bc.MAX_RECORDS, 500]
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        for start, step in [(0, 7), (bc.MAX_RECORDS - 3, 1000), (2500, 333), (n - 1, 5), (n, 5)]:
            consumer.seek(tp, start)
            got = await _read(consumer, tp, step)
            assert [r.offset for r in got] == list(range(start, n))
            assert all(r.value == b"v%d" % r.offset for r in got)
            assert all(
                r.headers == ((("i", b"%d" % r.offset),) if r.offset % 7 == 0 else ()) for r in got
            )
        consumer.seek(tp, 10)  # a seek drops what the last fetch kept of a cut batch
        assert (await consumer.poll(0, max_records=3))[tp][0].offset == 10
        consumer.seek(tp, 4000)
        assert [r.offset for r in (await consumer.poll(0, max_records=2))[tp]] == [4000, 4001]
        assert [r.offset for r in (await consumer.poll(0, max_records=2))[tp]] == [4002, 4003]

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]


def test_compaction_across_batches_keeps_the_latest_per_key_at_its_offset(tmp_path: Path) -> None:
    tp = TopicPartition("c", 0)
    rng = __import__("random").Random(5)
    sends = [
        (
            None if rng.random() < 0.05 else b"k%d" % rng.randrange(40),
            None if rng.random() < 0.1 else b"v%d" % i,
        )
        for i in range(6000)
    ]
    expected = {}
    for offset, (k, v) in enumerate(sends):
        expected[k if k is not None else ("null", offset)] = (offset, k, v)
    # timestamps are from 1970: a key whose latest record is a tombstone goes entirely
    expected = {k: r for k, r in expected.items() if r[1] is None or r[2] is not None}

    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("c", 1, {"cleanup.policy": "compact"})])
        await _produce(t, "c", sends, 37)  # many small batches, and some of 2000
        await _produce(t, "c", [], 1)
        deleted = await t.admin().compact(["c"])
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        got = [(r.offset, r.key, r.value) for r in await _read(consumer, tp, 1000)]
        assert got == sorted(expected.values(), key=lambda r: r[0])
        assert deleted == len(sends) - len(got)
        assert all(
            r.headers == ((("i", b"%d" % r.offset),) if r.offset % 7 == 0 else ())
            for r in await _read_all(consumer, tp)
        )
        rows = t.log.db.read(lambda c: c.execute("SELECT count(*) FROM batches").fetchone()[0])
        assert rows == 1  # the small batches were merged
        assert await t.admin().compact(["c"]) == 0  # nothing more to delete
        consumer.seek(tp, 0)
        assert [(r.offset, r.key, r.value) for r in await _read(consumer, tp, 50)] == got
        assert (await t.admin().list_offsets([tp], "latest"))[tp] == len(sends)
        assert (await t.admin().list_offsets([tp], "earliest"))[tp] == got[0][0]

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]


async def _read_all(consumer: Any, tp: TopicPartition) -> list[Any]:
    consumer.seek(tp, 0)
    return await _read(consumer, tp, 10_000)


# -- schema 1 -> 2 ---------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE topics(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL, config TEXT NOT NULL);
CREATE TABLE partitions(topic_id INTEGER NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY(topic_id, partition)) WITHOUT ROWID;
CREATE TABLE records(topic_id INTEGER NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, ts INTEGER NOT NULL, key BLOB, value BLOB, headers BLOB,
    PRIMARY KEY(topic_id, partition, offset)) WITHOUT ROWID;
CREATE TABLE group_offsets(group_id TEXT NOT NULL, topic TEXT NOT NULL,
    partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    PRIMARY KEY(group_id, topic, partition)) WITHOUT ROWID;
CREATE TABLE producer_epochs(transactional_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL)
    WITHOUT ROWID;
"""


def _v1_log(path: Path) -> dict[tuple[str, int], list[tuple[int, int, Any, Any, Any]]]:
    """A schema-1 log written by hand; returns the records it holds per partition."""
    path.mkdir(mode=0o700)
    conn = sqlite3.connect(path / "log.db")
    conn.executescript(V1_SCHEMA)
    conn.execute("INSERT INTO topics VALUES (1, 'a', 2, '{}')")
    conn.execute("INSERT INTO topics VALUES (3, 'c', 1, '{\"cleanup.policy\": \"compact\"}')")
    want: dict[tuple[str, int], list[tuple[int, int, Any, Any, Any]]] = {}
    for tid, name, partition, n, step in [
        (1, "a", 0, 4500, 1),
        (1, "a", 1, 3, 1),
        (3, "c", 0, 50, 3),
    ]:
        rows = []
        for i in range(n):
            offset = i * step  # topic c has the gaps compaction leaves
            key = None if i % 9 == 0 else b"k%d" % i
            value = None if i % 13 == 0 else os.urandom(i % 50)
            hdrs = (("h", None), ("n", b"%d" % i)) if i % 5 == 0 else ()
            rows.append((offset, 10_000 + i, key, value, hdrs))
            conn.execute(
                "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tid, partition, offset, 10_000 + i, key, value, encode_headers(hdrs)),
            )
        conn.execute(
            "INSERT INTO partitions VALUES (?, ?, ?)", (tid, partition, (n - 1) * step + 1)
        )
        want[(name, partition)] = rows
    conn.execute("INSERT INTO group_offsets VALUES ('app', 'a', 0, 1234)")
    conn.execute("INSERT INTO producer_epochs VALUES ('app-0_0', 4)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    return want


def test_a_schema_1_log_is_migrated_keeping_every_record_and_offset(tmp_path: Path) -> None:
    want = _v1_log(tmp_path / "b")

    async def body(t: EmbeddedTransport) -> None:
        admin = t.admin()
        assert sorted(await admin.list_topics()) == ["a", "c"]
        consumer = t.consumer(group_id=None)
        tps = [TopicPartition(*k) for k in want]
        consumer.assign(tps)
        for tp in tps:
            got = [
                (r.offset, r.timestamp, r.key, r.value, r.headers)
                for r in await _read_all(consumer, tp)
            ]
            assert got == want[(tp.topic, tp.partition)]
        assert await admin.committed_offsets("app", [TopicPartition("a", 0)]) == {
            TopicPartition("a", 0): 1234
        }
        ends = await admin.list_offsets(tps, "latest")
        assert ends == {
            TopicPartition("a", 0): 4500,
            TopicPartition("a", 1): 3,
            TopicPartition("c", 0): 148,
        }
        producer = t.producer()
        producer.send(ProducerRecord("a", 1, b"new", b"one", 1))
        assert await producer.flush() == {TopicPartition("a", 1): 3}
        assert t.producer(transactional_id="app-0_0")._epoch == 5  # type: ignore[attr-defined]
        tables = t.log.db.read(
            lambda c: [r[0] for r in c.execute("SELECT name FROM sqlite_master")]
        )
        assert "records" not in tables and "batches" in tables
        assert (
            t.log.db.read(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
            == SCHEMA_VERSION
        )

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]


def test_a_log_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir(mode=0o700)
    conn = sqlite3.connect(tmp_path / "b" / "log.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(BrokerError, match="newer streamz_kit"):
        run_with(connect(f"embedded://{tmp_path / 'b'}"), lambda t: t.admin().list_topics())


# -- damage ----------------------------------------------------------------------------------


def test_a_damaged_batch_is_a_broker_error_naming_it(tmp_path: Path) -> None:
    tp = TopicPartition("t", 0)

    async def body(t: EmbeddedTransport) -> None:
        await t.admin().create_topics([TopicSpec("t", 1)])
        await _produce(t, "t", [(b"k", b"value-%d" % i) for i in range(10)], 5)

        def flip(conn: sqlite3.Connection) -> None:
            (payload,) = conn.execute(
                "SELECT payload FROM batches WHERE base_offset = 5"
            ).fetchone()
            damaged = bytearray(payload)
            damaged[len(damaged) // 2] ^= 0x10
            conn.execute("UPDATE batches SET payload = ? WHERE base_offset = 5", (bytes(damaged),))

        await t.log.db.awrite(flip)
        consumer = t.consumer(group_id=None)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        assert [r.offset for r in (await consumer.poll(0, max_records=5))[tp]] == [0, 1, 2, 3, 4]
        with pytest.raises(BrokerError, match=r"offsets 5-9 of t\[0\] .* is damaged .*restore"):
            await consumer.poll(0, max_records=5)

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)  # type: ignore[arg-type]
