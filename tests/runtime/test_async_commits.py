"""Commits keep coming while the called service is slow: a node takes at most `max_queued`
records (processor/async_ops.py), the worker fetches no more than that room
(runtime/async_drive.py), so each commit awaits a bounded number of calls instead of every
record fetched so far (one poll can bring thousands).

Counted, not timed: each call notes how many commits the worker had made when it started.
Without the bound the first poll takes the whole backlog and the first commit awaits all of
it, so every call sees the same count; with it, calls see the count rise commit after commit.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.processor.async_ops import QUEUE_PER_CALL
from streamz_kit.runtime.async_drive import admit
from streamz_kit.transport import TopicPartition, connect
from streamz_kit.transport.port import ConsumedRecord
from tests.runtime.e2e import produce, read_all
from tests.runtime.test_async_ops import make_task

TOTAL = 160
KEYS = 40
MAX_IN_FLIGHT = 2


async def committed_offset(broker: str, group: str) -> int:
    transport = connect(broker)
    await transport.start()
    try:
        offsets = await transport.admin().committed_offsets(group, [TopicPartition("events", 0)])
        return offsets.get(TopicPartition("events", 0)) or 0
    finally:
        await transport.close()


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_commits_keep_coming_while_calls_are_slow(tmp_path: Path, guarantee: str) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    commits_seen: list[int] = []  # the worker's commit count when each call started
    queued_at_commit: list[int] = []  # records a node held when each commit began
    finished: list[int] = []
    app: sk.App | None = None

    async def slow(value: dict[str, int]) -> dict[str, int]:
        assert app is not None and app._worker is not None and app._worker.tasks is not None
        commits_seen.append(app._worker.tasks.stats.commits)
        await asyncio.sleep(0.02)
        finished.append(value["seq"])
        return value

    builder = sk.StreamsBuilder()
    (
        builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values_async(slow, max_in_flight=MAX_IN_FLIGHT)
        .to("out", value_serde=serdes.JSON)
    )
    app = sk.App(
        builder.build(),
        application_id="slow-calls",
        broker=broker,
        processing_guarantee=guarantee,
        state_dir=str(tmp_path / "state"),
        commit_interval_ms=20,
    )

    async def scenario() -> None:
        assert app is not None
        # The whole backlog is there before the worker starts: one poll could take it all.
        records = [(f"k{i % KEYS}", {"seq": i}) for i in range(TOTAL)]
        await produce(broker, "events", records, 1)
        await app.start()
        tasks = app._worker.tasks  # type: ignore[union-attr]
        assert tasks is not None
        commit = tasks.commit

        async def counting_commit(force: bool = False, only: Any = None) -> bool:
            queued_at_commit.append(
                sum(n.queued for t in tasks.running().values() for n in t.async_nodes)
            )
            return await commit(force, only=only)

        tasks.commit = counting_commit  # type: ignore[method-assign]
        try:
            for _ in range(6000):
                if len(finished) == TOTAL or app.error is not None:
                    break
                await asyncio.sleep(0.01)
        finally:
            await app.stop()
        assert app.error is None, app.error

    asyncio.run(scenario())
    max_queued = QUEUE_PER_CALL * MAX_IN_FLIGHT
    assert len(finished) == TOTAL
    # Every commit began with at most max_queued records to await, never the backlog.
    assert queued_at_commit and max(queued_at_commit) <= max_queued, queued_at_commit
    # Commits kept coming while the calls ran: calls started under many commit counts.
    assert len(set(commits_seen)) >= 10, sorted(set(commits_seen))
    out = [
        (k.decode(), orjson.loads(v)["seq"])
        for k, v in asyncio.run(read_all(broker, "out"))
        if k is not None and v is not None
    ]
    assert sorted(s for _, s in out) == list(range(TOTAL))  # every record, once
    per_key: dict[str, list[int]] = defaultdict(list)
    for key, seq in out:
        per_key[key].append(seq)
    assert all(seqs == sorted(seqs) for seqs in per_key.values())
    assert asyncio.run(committed_offset(broker, "slow-calls")) == TOTAL


class SeekLog:
    """The one consumer method `admit` uses."""

    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks[tp] = offset


def test_a_poll_larger_than_the_room_is_cut_and_fetched_again() -> None:
    """The poll that assigns a task fetches before its nodes exist: the task takes only its
    room, the first records in processing order (timestamps across partitions), and the
    consumer goes back to the first record left out of each partition."""

    async def call(value: Any) -> Any:
        return value

    task = make_task(lambda s: s.map_values_async(call, max_in_flight=2))  # room 6
    a = [ConsumedRecord("in", 0, o, 10 * o, b"k", b"1") for o in range(5)]  # ts 0..40
    b = [ConsumedRecord("in", 1, o, 10 * o + 5, b"k", b"1") for o in range(5)]  # ts 5..45
    consumer = SeekLog()
    kept = admit(task, [a, b], consumer)  # type: ignore[arg-type]
    assert kept == [a[:3], b[:3]]  # ts 0, 5, 10, 15, 20, 25
    assert consumer.seeks == {TopicPartition("in", 0): 3, TopicPartition("in", 1): 3}
    consumer = SeekLog()
    assert admit(task, [a], consumer) == [a]  # type: ignore[arg-type]
    assert consumer.seeks == {}  # it fits
    task.process_batch(a[:4])  # 4 queued: room 2
    assert admit(task, [b], consumer) == [b[:2]]  # type: ignore[arg-type]
    assert consumer.seeks == {TopicPartition("in", 1): 2}
    task.close()
