"""Embedded broker across processes: group lock, concurrent producers and readers, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from transport_helpers import poll_until, run_with

from streamz_kit.errors import BrokerError, BrokerLockedError
from streamz_kit.transport import TopicPartition, TopicSpec, Transport, connect

CHILD = str(Path(__file__).with_name("embedded_child.py"))


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != expected:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"child said {line!r}, stderr:\n{err}")


def make_topics(path: Path, *specs: TopicSpec) -> None:
    run_with(connect(f"embedded://{path}"), lambda t: t.admin().create_topics(list(specs)))


async def noop(tps: set[TopicPartition]) -> None:
    return None


def test_second_process_of_the_same_group_gets_broker_locked_error(tmp_path: Path) -> None:
    path = tmp_path / "broker"
    make_topics(path, TopicSpec("in", 2))
    child = spawn("hold-lock", str(path), "recs", "in")
    try:
        wait_for_line(child, "ready")

        async def body(t: Transport) -> None:
            assert await t.admin().group_is_active("recs")
            consumer = t.consumer(group_id="recs")
            with pytest.raises(BrokerLockedError) as info:
                await consumer.subscribe(["in"], on_assigned=noop, on_revoked=noop)
            message = str(info.value)
            assert "application 'recs'" in message and f"pid {child.pid}" in message
            assert str(path) in message and "kafka://" in message
            with pytest.raises(BrokerError, match="stop it"):
                await t.admin().alter_group_offsets("recs", {TopicPartition("in", 0): 0})
            other = t.consumer(group_id="another-app")  # other groups are not affected
            await other.subscribe(["in"], on_assigned=noop, on_revoked=noop)
            await other.close()

        run_with(connect(f"embedded://{path}"), body)
    finally:
        child.kill()
        child.wait(timeout=10)

    async def after(t: Transport) -> None:  # the kernel released the dead holder's lock
        assert not await t.admin().group_is_active("recs")
        consumer = t.consumer(group_id="recs")
        await consumer.subscribe(["in"], on_assigned=noop, on_revoked=noop)
        assert await t.admin().group_is_active("recs")
        await consumer.close()
        assert not await t.admin().group_is_active("recs")

    run_with(connect(f"embedded://{path}"), after)


def test_second_member_in_the_same_process_is_refused_until_close(tmp_path: Path) -> None:
    async def body(t: Transport) -> None:
        await t.admin().create_topics([TopicSpec("in", 1)])
        first = t.consumer(group_id="app")
        await first.subscribe(["in"], on_assigned=noop, on_revoked=noop)
        second = t.consumer(group_id="app")
        with pytest.raises(BrokerLockedError, match=f"pid {os.getpid()}"):
            await second.subscribe(["in"], on_assigned=noop, on_revoked=noop)
        await first.close()
        await second.subscribe(["in"], on_assigned=noop, on_revoked=noop)

    run_with(connect(f"embedded://{tmp_path / 'b'}"), body)


def test_two_producer_processes_while_a_reader_follows(tmp_path: Path) -> None:
    path = tmp_path / "broker"
    make_topics(path, TopicSpec("events", 1))
    n = 3000
    children = [spawn("produce", str(path), "events", str(n), "100", tag) for tag in ("a", "b")]
    try:

        async def body(t: Transport) -> list[tuple[int, bytes | None]]:
            consumer = t.consumer(group_id=None)
            consumer.assign([TopicPartition("events", 0)])
            got = await poll_until(consumer, 2 * n, timeout_s=30)
            return [(r.offset, r.value) for r in got]

        got = run_with(connect(f"embedded://{path}"), body)
    finally:
        for child in children:
            assert child.wait(timeout=30) == 0, child.communicate()[1]
    assert [offset for offset, _ in got] == list(range(2 * n))
    for tag in ("a", "b"):  # each producer's records in its own order, none lost or doubled
        mine = [v for _, v in got if v is not None and v.startswith(tag.encode())]
        assert mine == [f"{tag}-{i}".encode() for i in range(n)]


def test_committed_records_and_offsets_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "broker"
    make_topics(path, TopicSpec("out", 2), TopicSpec("input", 1))
    child = spawn("commit-and-hang", str(path), "out", "app")
    try:
        wait_for_line(child, "committed")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    async def body(t: Transport) -> None:
        admin = t.admin()
        offsets = await admin.list_offsets(
            [TopicPartition("out", 0), TopicPartition("out", 1)], "latest"
        )
        assert offsets == {TopicPartition("out", 0): 250 + 300, TopicPartition("out", 1): 250}
        assert await admin.committed_offsets("app", [TopicPartition("input", 0)]) == {
            TopicPartition("input", 0): 500
        }
        consumer = t.consumer(group_id=None)
        consumer.assign([TopicPartition("out", 0), TopicPartition("out", 1)])
        values = [r.value for r in await poll_until(consumer, 800)]
        values += [r.value for rs in (await consumer.poll(200)).values() for r in rs]
        assert len(values) == 800 and b"never-committed" not in values
        assert set(values) == {b"tx-%d" % i for i in range(500)} | {
            b"plain-%d" % i for i in range(300)
        }

    run_with(connect(f"embedded://{path}"), body)
