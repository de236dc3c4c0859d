"""Restoration must not stop before the changelog's end when the first fetches are slow.

On Kafka a restore uses a fresh consumer; on a loaded machine its first fetches can come
back empty for longer than two polls. Stopping on "two empty polls" alone then started the
task on empty state (seen on real Kafka as "Restored tasks [...]: 0 changelog records" for a
task that had state, and its aggregates lost everything before the move)."""

from __future__ import annotations

import asyncio
from typing import Any

from streamz_kit.runtime.restore import restore
from streamz_kit.transport.port import ConsumedRecord, TopicPartition

TP = TopicPartition("app-store-changelog", 0)


class _Admin:
    async def list_offsets(self, partitions: Any, spec: str) -> dict[TopicPartition, int]:
        return {tp: (0 if spec == "earliest" else 5) for tp in partitions}


class _SlowConsumer:
    """Five records, delivered only after four empty polls (a slow first fetch)."""

    def __init__(self) -> None:
        self.polls = 0
        self.position_ = 0

    def assign(self, partitions: Any) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position_ = offset

    def pause(self, partitions: Any) -> None:
        pass

    def position(self, tp: TopicPartition) -> int:
        return self.position_

    async def poll(self, timeout_ms: int, max_records: int | None = None) -> Any:
        self.polls += 1
        if self.polls <= 4 or self.position_ >= 5:
            return {}
        records = [ConsumedRecord(TP.topic, 0, o, 0, b"k%d" % o, b"v", ()) for o in range(5)]
        self.position_ = 5
        return {TP: records}

    async def close(self) -> None:
        pass


class _Transport:
    exact_end_offsets = False  # like Kafka's adapter

    def __init__(self) -> None:
        self.consumer_ = _SlowConsumer()

    def admin(self) -> _Admin:
        return _Admin()

    def consumer(self, **_: Any) -> _SlowConsumer:
        return self.consumer_


class _Target:
    partition = TP
    end = None
    name = "store"

    def __init__(self) -> None:
        self.restored: list[int] = []

    def next_offset(self) -> int | None:
        return None

    def restore(self, records: Any) -> None:
        self.restored.extend(r.offset for r in records)


def test_restore_reads_to_the_end_even_when_the_first_fetches_are_slow() -> None:
    target = _Target()
    result = asyncio.run(restore(_Transport(), [target], "task 1_0"))  # type: ignore[arg-type, list-item]
    assert target.restored == [0, 1, 2, 3, 4]
    assert result.records == 5
