"""Commit, in numbered steps, written once for each processing guarantee.

Kafka Streams' order, with Quix's store-after-commit refinement:
1. `drain`: flush the task's record caches, take its output records, its stores' pending
   changes as changelog records, and the input offsets it consumed;
2. `produce`: hand them to the producer (outputs first, then changelog records);
3. make them durable together with the input offsets — exactly_once: one transaction per
   task (records + offsets; on Kafka all tasks' transactions at once, on the embedded log
   all of them in one SQLite transaction); at_least_once: flush the producer, then commit the offsets;
4. `apply`: write each store's changes and the changelog offset they reflect in one batch;
5. purge repartition topics up to the committed offsets (runtime/purge.py, driven by the
   TaskManager with the offsets these functions return).
A crash between any two steps loses nothing: stores are written only after step 3, and a
restart restores the changelog tail past the offset kept in the store. The `maybe_crash`
points between the steps let the crash tests kill a worker exactly there.

`commit_exactly_once` and `commit_at_least_once` run the steps for all of the App's
tasks at once; the TopologyTestDriver runs steps 1, 2 and 4 after every record, with its in-memory log
standing in for step 3.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple, Protocol

from streamz_kit.errors import ProducerFencedError, TaskMigratedError
from streamz_kit.faults import maybe_crash
from streamz_kit.runtime.task import Task
from streamz_kit.transport.port import Consumer, Producer, ProducerRecord, TopicPartition

__all__ = [
    "Drained",
    "apply",
    "commit_at_least_once",
    "commit_exactly_once",
    "drain",
    "produce",
]


class Drained(NamedTuple):
    """What one task hands to a commit (step 1's result)."""

    outputs: list[ProducerRecord]
    changelog: list[ProducerRecord]
    offsets: dict[TopicPartition, int]

    def __bool__(self) -> bool:
        return bool(self.outputs or self.changelog or self.offsets)


class Sender(Protocol):
    def send(self, record: ProducerRecord) -> None: ...


def drain(task: Task) -> Drained:
    """Step 1: everything the task produced since the last commit."""
    task.flush_caches()
    outputs = task.drain_output()
    changelog = task.state_manager.changelog_records(max(task.stream_time, 0))
    offsets = {TopicPartition(t, p): o for (t, p), o in task.consumed_offsets.items()}
    task.consumed_offsets.clear()
    task.state_manager.consumed(offsets)  # stores positioned on their source topic
    return Drained(outputs, changelog, offsets)


def produce(producer: Sender, drained: Drained) -> None:
    """Step 2: queue the task's outputs, then its changelog records."""
    send = producer.send
    for record in drained.outputs:
        send(record)
    for record in drained.changelog:
        send(record)


def apply(task: Task, written: Mapping[TopicPartition, int]) -> None:
    """Step 4: write the task's stores with the changelog offsets step 3 reported."""
    task.state_manager.apply(written)


async def commit_exactly_once(
    tasks: Sequence[tuple[Task, Producer]], group_id: str
) -> dict[TopicPartition, int]:
    """Every task's own transaction: its records, changelog records and input offsets commit
    together or not at all. Where the producers can write several transactions in one
    durable step (`Producer.group_commit`: the embedded log, one SQLite transaction), all
    tasks commit in that one step; elsewhere (Kafka) every task's transaction runs at once,
    each on its own producer, so a commit costs the round trips of one transaction, not of
    one per task. A task whose transaction fails writes nothing; the others commit and
    their stores are written; then a fenced producer (another worker owns its task now)
    raises TaskMigratedError, any other failure itself. Returns the input offsets
    committed."""
    if tasks and all(type(p).group_commit for _, p in tasks):
        return await _commit_as_group(tasks, group_id)
    results = await asyncio.gather(
        *(_commit_one(task, producer, group_id) for task, producer in tasks),
        return_exceptions=True,
    )
    committed: dict[TopicPartition, int] = {}
    failures: list[BaseException] = []
    for result in results:
        if isinstance(result, BaseException):
            failures.append(result)
        else:
            committed.update(result)
    for exc in failures:
        if isinstance(exc, TaskMigratedError):
            raise exc
    if failures:
        raise failures[0]
    return committed


async def _commit_one(task: Task, producer: Producer, group_id: str) -> dict[TopicPartition, int]:
    drained = drain(task)
    maybe_crash("commit:after_drain")
    if not drained and not task.transaction_open:
        apply(task, {})
        return {}
    try:
        if not task.transaction_open:
            await producer.begin()
        produce(producer, drained)
        maybe_crash("commit:after_produce")
        if drained.offsets:
            # The records start on their way first (AddPartitionsToTxn, then Produce), so
            # they travel while the offsets join the transaction (AddOffsetsToTxn, then
            # TxnOffsetCommit): one commit waits for the longer of the two, not for both.
            await producer.dispatch()
            await producer.send_offsets(group_id, drained.offsets)
        written = await producer.commit()
        task.transaction_open = False
    except ProducerFencedError as exc:
        raise _migrated(task) from exc
    maybe_crash("commit:after_commit")
    apply(task, written)
    task.positions.update(drained.offsets)
    maybe_crash("commit:after_apply")
    return drained.offsets


async def _commit_as_group(
    tasks: Sequence[tuple[Task, Producer]], group_id: str
) -> dict[TopicPartition, int]:
    """All tasks' transactions through one `commit_group`. A fenced producer writes nothing;
    the other tasks commit and their stores are written, then TaskMigratedError. The crash
    points are called once per task, as one task at a time calls them, so a crash test
    lands in each window as often as before."""
    open_: list[tuple[Task, Producer, Drained]] = []
    for task, producer in tasks:
        drained = drain(task)
        maybe_crash("commit:after_drain")
        if drained:
            open_.append((task, producer, drained))
        else:
            apply(task, {})
    if not open_:
        return {}
    for _, producer, drained in open_:
        await producer.begin()
        produce(producer, drained)
        if drained.offsets:
            await producer.send_offsets(group_id, drained.offsets)
        maybe_crash("commit:after_produce")
    producers = [p for _, p, _ in open_]
    results = await type(producers[0]).commit_group(producers)
    committed: dict[TopicPartition, int] = {}
    failures: list[tuple[Task, BaseException]] = []
    for (task, _, drained), result in zip(open_, results):
        maybe_crash("commit:after_commit")
        if isinstance(result, BaseException):
            failures.append((task, result))
            continue
        apply(task, result)
        task.positions.update(drained.offsets)
        maybe_crash("commit:after_apply")
        committed.update(drained.offsets)
    for task, exc in failures:
        if isinstance(exc, ProducerFencedError):
            raise _migrated(task) from exc
    if failures:
        raise failures[0][1]
    return committed


def _migrated(task: Task) -> TaskMigratedError:
    return TaskMigratedError(
        f"Task {task.task_id} was fenced by a newer worker; it will be closed and rejoined."
    )


async def commit_at_least_once(
    tasks: Iterable[Task], producer: Producer, consumer: Consumer
) -> dict[TopicPartition, int]:
    """All tasks at once: produce, flush (every record is durable), then commit the input
    offsets, then write the stores. Returns the input offsets committed."""
    tasks = list(tasks)
    offsets: dict[TopicPartition, int] = {}
    for task in tasks:
        drained = drain(task)
        produce(producer, drained)
        offsets.update(drained.offsets)
    maybe_crash("commit:after_produce")
    written = await producer.flush()
    maybe_crash("commit:after_flush")
    if offsets:
        await consumer.commit(offsets)
    maybe_crash("commit:after_commit")
    for task in tasks:
        apply(task, written)
    maybe_crash("commit:after_apply")
    return offsets
