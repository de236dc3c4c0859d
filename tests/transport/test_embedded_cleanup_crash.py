"""A SIGKILL in the middle of a retention delete, a repartition purge or a vacuum loses
nothing: the fault hook (streamz_kit/faults.py) kills a child process inside the
cleanup's SQLite transaction, and the log the parent reopens is whole and consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from transport_helpers import run_with

from streamz_kit.faults import MARKER
from streamz_kit.transport import ProducerRecord, TopicPartition, TopicSpec, connect
from streamz_kit.transport.embedded import EmbeddedTransport

TP = TopicPartition("t", 0)
OLD = 1_000_000  # 1970: past any retention
NOW = 1_900_000_000_000

CHILD = """
import asyncio, sys
from streamz_kit.transport import TopicPartition, connect

async def main():
    t = connect(sys.argv[1])
    await t.start()
    if sys.argv[2] == "purge":
        await t.admin().delete_records({TopicPartition("t", 0): 150})
    else:
        await t.log.cleaner.run(now_ms=NOW)
    await t.close()

asyncio.run(main())
""".replace("NOW", str(NOW))


def _transport(tmp_path: Path) -> EmbeddedTransport:
    t = connect(f"embedded://{tmp_path / 'b'}")
    assert isinstance(t, EmbeddedTransport)
    return t


async def _fill(t: EmbeddedTransport) -> None:
    await t.admin().create_topics([TopicSpec("t", 1, {"retention.ms": "60000"})])
    producer = t.producer()
    for batch in range(5):  # offsets 0-199 old, 200-249 recent
        ts = NOW if batch == 4 else OLD
        n = 50
        for i in range(n):
            producer.send(ProducerRecord("t", 0, b"k%d" % i, os.urandom(3000), ts))
        await producer.flush()


async def _offsets(t: EmbeddedTransport) -> list[int]:
    consumer = t.consumer(group_id=None)
    consumer.assign([TP])
    consumer.seek(TP, (await t.admin().list_offsets([TP], "earliest"))[TP])
    out: list[int] = []
    while got := (await consumer.poll(0)).get(TP, []):
        out.extend(r.offset for r in got)
    await consumer.close()
    return out


def _kill_child(tmp_path: Path, point: str, action: str) -> None:
    env = {**os.environ, "STREAMZ_FAULT_KILL_POINT": point}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, f"embedded://{tmp_path / 'b'}", action],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert f"{MARKER}{point}" in proc.stderr


def _integrity(t: EmbeddedTransport) -> str:
    return str(t.log.db.read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0]))


@pytest.mark.parametrize(
    ("point", "action"),
    [
        ("cleanup:after_delete", "retention"),
        ("cleanup:after_purge", "purge"),
    ],
)
def test_a_kill_inside_a_delete_keeps_every_record(tmp_path: Path, point: str, action: str) -> None:
    run_with(_transport(tmp_path), _fill)  # type: ignore[arg-type]
    _kill_child(tmp_path, point, action)

    async def check(t: EmbeddedTransport) -> None:
        assert _integrity(t) == "ok"
        assert await _offsets(t) == list(range(250))
        [state] = await t.admin().describe_partitions(["t"])
        assert state.start_offset == 0
        # The next cleanup, not killed, does the whole job.
        if action == "purge":
            assert await t.admin().delete_records({TP: 150}) == {TP: 150}
            assert await _offsets(t) == list(range(150, 250))
        else:
            assert (await t.log.cleaner.run(now_ms=NOW)).records == 200
            assert await _offsets(t) == list(range(200, 250))

    run_with(_transport(tmp_path), check)  # type: ignore[arg-type]


def test_a_kill_inside_a_vacuum_keeps_the_log_whole(tmp_path: Path) -> None:
    run_with(_transport(tmp_path), _fill)  # type: ignore[arg-type]
    _kill_child(tmp_path, "cleanup:vacuum", "retention")

    async def check(t: EmbeddedTransport) -> None:
        assert _integrity(t) == "ok"
        # The delete committed before the vacuum began: the expired records are gone (as
        # retention allowed), the recent ones are all there, and the freed pages wait.
        assert await _offsets(t) == list(range(200, 250))
        free = t.log.db.read(lambda c: c.execute("PRAGMA freelist_count").fetchone()[0])
        assert free > 0
        assert await t.log.cleaner.reclaim() >= free
        assert t.log.db.read(lambda c: c.execute("PRAGMA freelist_count").fetchone()[0]) == 0
        assert _integrity(t) == "ok"
        assert await _offsets(t) == list(range(200, 250))

    run_with(_transport(tmp_path), check)  # type: ignore[arg-type]
