"""exactly_once on a broker whose transactions carry no group generation (aiokafka: no KIP-447).

A task's transactional producer (`<application_id>-<task_id>`) is what fences a zombie, the
previous owner of the task that froze past its session timeout and may wake up mid-commit.
Two steps, in `TaskManager._create_tasks`' order (docs/architecture.md says why):

1. `fence_previous_owners`, before anything of the task is read: InitProducerId bumps the
   epoch of each new task's transactional id, so the broker refuses the old producer and
   aborts its open transaction;
2. `seek_to_committed`, after the stores are restored: the inputs start at the offsets the
   group holds *now*; the consumer looked them up when the assignment arrived, possibly while
   the previous owner's last transaction was still open.

A task that stays on this worker across an eager rebalance (suspended, then resumed) is not
fenced again, and its inputs must not start where the group says: `resume_positions` puts
them back where the task's own last commit left them (`Task.positions`). The rebalance
follows that commit at once, and the client re-reads the group's offsets as soon as the
assignment arrives; Kafka's OffsetFetch (without KIP-447's require_stable, which aiokafka
does not send) answers with the offsets of *completed* transactions only, and a committed
transaction completes when its markers are written, a moment after EndTxn returns. Read in
that moment, the offsets are the previous transaction's: the task would process a
transaction's worth of records again, its outputs and store updates included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from streamz_kit.transport.port import Consumer, Producer, TopicPartition, Transport


def transactional_id(application_id: str, task_id: str) -> str:
    return f"{application_id}-{task_id}"


async def fence_previous_owners(
    transport: Transport,
    application_id: str,
    producers: dict[str, Producer],
    task_ids: Iterable[str],
) -> None:
    """Create (into `producers`) and register each task's transactional producer."""
    fresh = []
    for task_id in task_ids:
        if task_id not in producers:
            producers[task_id] = transport.producer(
                transactional_id=transactional_id(application_id, task_id)
            )
        fresh.append(producers[task_id])
    await asyncio.gather(*(p.init_transactions() for p in fresh))


async def seek_to_committed(
    consumer: Consumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Position these input partitions at the group's committed offsets, read now; returns
    them (partitions without a committed offset start at the reset policy's offset)."""
    committed = await consumer.committed(partitions)
    for tp, offset in committed.items():
        consumer.seek(tp, offset)
    return committed


def resume_positions(consumer: Consumer, positions: dict[TopicPartition, int]) -> None:
    """Position a resumed task's inputs where its own last commit left them. A partition
    it has no position for has no committed offset from this task's producer, so the
    group's answer for it cannot lag (and another owner's would have fenced the task)."""
    for tp, offset in positions.items():
        consumer.seek(tp, offset)
