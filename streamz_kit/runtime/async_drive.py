"""The worker loop's side of the async operators (processor/async_ops.py).

At each batch boundary the loop calls `drive`: finished calls are forwarded, queued ones
started, and while any async node is full (near its `max_queued` records accepted and not
yet forwarded: the running calls and those waiting behind them) the loop waits for calls to
finish instead of fetching more. The next poll then asks for at most `poll_room` records, the
least room any node has left, so a node never holds much more than `max_queued` records (a
flat_map upstream of it can multiply them) and the consumer is not polled while one is full.
What a node holds is what the next commit waits for (Task.settle_async): bounding it bounds
that wait, however far behind the called service falls. A poll that assigns new tasks
fetches before their nodes exist: `admit` then lets each task take only its room and moves the
consumer back to the first record left out.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable

from streamz_kit.processor.async_ops import wait_for_a_call
from streamz_kit.runtime.task import Task
from streamz_kit.transport.port import ConsumedRecord, Consumer, TopicPartition

__all__ = ["IN_FLIGHT_POLL_MS", "admit", "async_tasks", "drive", "poll_room"]

# While calls are in flight the loop polls with this timeout (at most), so finished calls
# are forwarded promptly even when no new records arrive.
IN_FLIGHT_POLL_MS = 5


def async_tasks(tasks: Iterable[Task]) -> list[Task]:
    """The running tasks that have async operators."""
    return [task for task in tasks if task.async_nodes]


async def drive(tasks: list[Task]) -> bool:
    """Forward finished calls and start queued ones; wait while any node is full.
    Returns whether calls are still in flight."""
    for task in tasks:
        task.step_async()
    while True:
        # A full node has calls running: start_calls fills every free slot with a waiting
        # key's head, and a full node holds more records than it has slots.
        full = [node for task in tasks for node in task.async_nodes if node.full]
        if not full:
            break
        await wait_for_a_call(full)
        for task in tasks:
            task.step_async()
    return any(node.in_flight for task in tasks for node in task.async_nodes)


def poll_room(tasks: list[Task], max_records: int) -> int:
    """How many records the next poll may fetch: `max_records`, or less when an async node
    has less room left (at least 1: `drive` returns only once no node is full)."""
    room = min((node.room for task in tasks for node in task.async_nodes), default=max_records)
    return max(1, min(max_records, room))


def admit(
    task: Task, lists: list[list[ConsumedRecord]], consumer: Consumer
) -> list[list[ConsumedRecord]]:
    """The part of one poll's records (one list per partition) that a task with async
    operators takes now: at most the least room its nodes have left, the first records in
    the order the task processes them (by timestamp across partitions). The consumer is
    moved back to the first record left out of each partition, so it is fetched again."""
    room = min(node.room for node in task.async_nodes)
    if sum(len(records) for records in lists) <= room:
        return lists
    if len(lists) == 1:
        counts = Counter({0: room})
    else:
        tagged = ([(r.timestamp, i) for r in records] for i, records in enumerate(lists))
        merged = heapq.merge(*tagged, key=_first)
        counts = Counter(i for _, (_, i) in zip(range(room), merged, strict=False))
    kept = []
    for i, records in enumerate(lists):
        n = counts[i]
        if n < len(records):
            left = records[n]
            consumer.seek(TopicPartition(left.topic, left.partition), left.offset)
        if n:
            kept.append(records[:n])
    return kept


def _first(pair: tuple[int, int]) -> int:
    return pair[0]
