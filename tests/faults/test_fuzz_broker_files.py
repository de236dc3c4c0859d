"""The embedded broker's files damaged between runs: it opens, or says so in a BrokerError.

Two starting points, both holding a few hundred records with headers and a group offset:
- `crashed`: files copied while the log was open (what a kill -9 leaves: log.db plus its
  -wal and -shm files, the records still in the WAL);
- `clean`: files after a clean close (everything checkpointed into log.db).
Hypothesis truncates, overwrites, bit-flips, zeroes, extends or deletes one of them; then a
fresh transport opens the directory, lists topics and offsets, reads every record, appends
one and reads its group offset. Allowed outcomes: it works, or a BrokerError (one sentence
saying what to do). Not allowed: another exception (a raw sqlite3 error, a KeyError...), or a
hang, and never a log SQLite's own quick_check finds malformed. Where the damage is confined
to the WAL, whose frames SQLite checksums, what reads back must be a prefix of what was
written, never altered records; whatever opens keeps its appends.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from streamz_kit.errors import BrokerError
from streamz_kit.transport import connect
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

FILES = ("log.db", "log.db-wal", "log.db-shm")
FUZZ = settings(
    max_examples=int(os.environ.get("STREAMZ_FUZZ_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
Records = dict[tuple[str, int], list[tuple[int, Any, Any, Any]]]


async def _write_sample(path: Path, snapshot: Path | None) -> None:
    transport = connect(f"embedded://{path}")
    await transport.start()
    admin = transport.admin()
    await admin.create_topics([TopicSpec("a", 2), TopicSpec("b", 1, {"cleanup.policy": "compact"})])
    producer = transport.producer()
    for batch in range(6):  # one write transaction each, so the WAL holds several commits
        for i in range(50):
            n = batch * 50 + i
            producer.send(
                ProducerRecord(
                    "a", n % 2, f"k{n}".encode(), b"v" * (n % 300), n, (("h", f"{n}".encode()),)
                )
            )
            producer.send(
                ProducerRecord(
                    "b", 0, f"k{n % 7}".encode(), None if n % 11 == 0 else str(n).encode(), n
                )
            )
        await producer.flush()
    consumer = transport.consumer(group_id="g")
    await consumer.commit({TopicPartition("a", 0): 10, TopicPartition("a", 1): 20})
    if snapshot is not None:  # copy while open: what a kill -9 leaves on disk
        snapshot.mkdir(mode=0o700)
        for name in FILES:
            if (path / name).exists():
                shutil.copy2(path / name, snapshot / name)
    await consumer.close()
    await producer.close()
    await transport.close()


async def _probe(path: Path) -> Records:
    """Use the log the way a worker and the CLI do; return every record read."""
    transport = connect(f"embedded://{path}")
    await transport.start()
    try:
        admin = transport.admin()
        names = sorted(await admin.list_topics())
        counts = await admin.partition_counts(names)
        tps = [TopicPartition(t, p) for t in names for p in range(counts.get(t, 0))]
        ends = await admin.list_offsets(tps, "latest")
        await admin.list_offsets(tps, "earliest")
        await admin.committed_offsets("g", tps)
        consumer = transport.consumer(group_id=None)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        out: Records = {}
        for _ in range(1000):
            batch = await consumer.poll(timeout_ms=0, max_records=10_000)
            if not any(batch.values()):
                break
            for tp, records in batch.items():
                out.setdefault((tp.topic, tp.partition), []).extend(
                    (r.offset, r.key, r.value, r.headers) for r in records
                )
        await consumer.close()
        if "a" not in counts:
            await admin.create_topics([TopicSpec("a", 2)])
        producer = transport.producer()
        producer.send(ProducerRecord("a", 0, b"after", b"damage", 0))
        await producer.flush()
        await producer.close()
        assert all(isinstance(v, int) for v in ends.values())
        return out
    finally:
        await transport.close()


ORIGINALS: dict[str, Records] = {}  # what each template reads back undamaged


@pytest.fixture(scope="module")
def templates() -> Iterator[dict[str, Path]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        asyncio.run(_write_sample(root / "live", root / "crashed"))
        asyncio.run(_write_sample(root / "clean", None))
        for name in ("crashed", "clean"):
            copy = root / f"original-{name}"
            shutil.copytree(root / name, copy)
            ORIGINALS[name] = asyncio.run(_probe(copy))
        yield {"crashed": root / "crashed", "clean": root / "clean", "root": root}


damage = st.one_of(
    st.fixed_dictionaries({"start": st.just("crashed"), "file": st.sampled_from(FILES)}),
    st.fixed_dictionaries({"start": st.just("clean"), "file": st.just("log.db")}),
).flatmap(
    lambda where: st.fixed_dictionaries(
        {
            "start": st.just(where["start"]),
            "file": st.just(where["file"]),
            "op": st.sampled_from(["truncate", "overwrite", "flip", "zero", "extend", "delete"]),
            "where": st.floats(0, 1),
            "bytes": st.binary(min_size=1, max_size=64),
            "bit": st.integers(0, 7),
            "length": st.integers(1, 40_000),
        }
    )
)


def _apply(path: Path, d: dict[str, Any]) -> bool:
    """Damage one file as `d` says; False when the file does not exist in this start."""
    target = path / d["file"]
    if not target.exists():
        return False
    size = target.stat().st_size
    pos = int(d["where"] * max(size - 1, 0))
    op = d["op"]
    if op == "delete":
        target.unlink()
        return True
    with open(target, "r+b") as f:
        if op == "truncate":
            f.truncate(pos)
        elif op == "overwrite":
            f.seek(pos)
            f.write(d["bytes"])
        elif op == "flip" and size:
            f.seek(pos)
            (byte,) = f.read(1)
            f.seek(pos)
            f.write(bytes([byte ^ (1 << d["bit"])]))
        elif op == "zero":
            f.seek(pos)
            f.write(b"\0" * min(d["length"], max(size - pos, 1)))
        elif op == "extend":
            f.seek(0, os.SEEK_END)
            f.write(d["bytes"] * (d["length"] // len(d["bytes"]) + 1))
    return True


def _is_prefix(got: Records, want: Records) -> bool:
    return all(records == want.get(tp, [])[: len(records)] for tp, records in got.items())


def _sqlite_says_intact(path: Path) -> bool:
    """SQLite's own verdict on the damaged files, taken on a copy (opening may checkpoint)."""
    scratch = Path(tempfile.mkdtemp(dir=path.parent))
    try:
        for name in FILES:
            if (path / name).exists():
                shutil.copy2(path / name, scratch / name)
        conn = sqlite3.connect(scratch / "log.db")
        try:
            return conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@FUZZ
@given(d=damage)
def test_damaged_files_open_or_raise_broker_error(
    templates: dict[str, Path], d: dict[str, Any]
) -> None:
    work = Path(tempfile.mkdtemp(dir=templates["root"]))
    try:
        shutil.copytree(templates[d["start"]], work / "log")
        assume(_apply(work / "log", d))
        intact = _sqlite_says_intact(work / "log")
        started = time.monotonic()
        try:
            got = asyncio.run(_probe(work / "log"))
        except BrokerError as exc:
            event(f"BrokerError after {d['op']} of {d['file']}")
            message = str(exc)
            assert message.endswith(".") and "log" in message, message
            return
        finally:
            assert time.monotonic() - started < 10, f"opening the damaged log took too long: {d}"
        event(f"opened after {d['op']} of {d['file']}")
        assert intact, f"the broker served a log SQLite finds malformed after {d}"
        if d["file"] != "log.db":
            # WAL frames are checksummed and the -shm index is rebuilt: never altered records.
            assert _is_prefix(got, ORIGINALS[d["start"]]), f"records altered by {d}"
        # Whatever opened once keeps opening, with the appended record durable.
        again = asyncio.run(_probe(work / "log"))
        assert (b"after", b"damage") in [(k, v) for _, k, v, _ in again.get(("a", 0), [])]
    finally:
        shutil.rmtree(work, ignore_errors=True)


# One page of log.db overwritten: SQLite reports the b-tree malformed; before the broker ran
# quick_check at open it silently served a partition without half of its records (found by
# the fuzz test, at where=0.707 of the one-row-per-record layout). The layout has changed
# since, so the test looks for a page whose overwritten header SQLite finds malformed.
MALFORMING = {
    "start": "clean",
    "file": "log.db",
    "op": "overwrite",
    "where": 0.0,
    "bytes": b"\0" * 45 + b":",
    "bit": 0,
    "length": 1,
}


def test_malformed_database_is_refused_at_open(templates: dict[str, Path]) -> None:
    size = (templates["clean"] / "log.db").stat().st_size
    page = 16384
    for n in range(1, size // page):
        work = Path(tempfile.mkdtemp(dir=templates["root"]))
        try:
            shutil.copytree(templates["clean"], work / "log")
            assert _apply(work / "log", {**MALFORMING, "where": (n * page + 0.5) / (size - 1)})
            if _sqlite_says_intact(work / "log"):
                continue
            with pytest.raises(BrokerError):
                asyncio.run(_probe(work / "log"))
            return
        finally:
            shutil.rmtree(work, ignore_errors=True)
    raise AssertionError("no overwritten page made the log malformed")


def test_undamaged_copies_read_back_everything(templates: dict[str, Path]) -> None:
    """The baseline the fuzz test compares against holds every record that was written."""
    for records in ORIGINALS.values():
        assert len(records[("a", 0)]) == 150 and len(records[("a", 1)]) == 150
        assert records[("a", 1)][0][3] == (("h", b"1"),)


def test_a_directory_that_is_a_file_is_a_broker_error(tmp_path: Path) -> None:
    (tmp_path / "log").write_text("not a directory")
    with pytest.raises(BrokerError):
        asyncio.run(_probe(tmp_path / "log"))


def test_a_log_db_that_is_a_directory_is_a_broker_error(tmp_path: Path) -> None:
    (tmp_path / "log" / "log.db").mkdir(parents=True)
    with pytest.raises(BrokerError):
        asyncio.run(_probe(tmp_path / "log"))
