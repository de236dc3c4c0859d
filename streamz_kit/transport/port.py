"""The transport port: the one narrow interface between the runtime and a broker.

Two adapters implement it: `embedded` (a durable log on local disk, the default) and
`kafka` (aiokafka). The runtime never imports an adapter directly; it asks
`streamz_kit.transport.connect(url)` for a `Transport` and talks only to these classes.

The shape follows Kafka's clients so the Kafka adapter needs no contortions:
- an `Admin` for topics and group offsets,
- a `Consumer` that either joins a group (`subscribe`, partitions handed out by the
  broker's coordinator, with a rebalance listener) or reads partitions it was told to
  (`assign`, used for changelog restoration and global tables), with `seek` and `poll`,
- a `Producer` that is plain (at_least_once: `send` then `flush`) or transactional
  (exactly_once: `begin`, `send`, `send_offsets`, `commit`/`abort`).

Records cross the port as bytes; serdes are the runtime's business.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from streamz_kit.errors import BrokerError

Headers = tuple[tuple[str, bytes], ...]


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class ConsumedRecord(NamedTuple):
    """A record as read from the log, bytes in, with its coordinates."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


class ProducerRecord(NamedTuple):
    """A record to append. `partition` is chosen by the runtime (our partitioner), never None."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: Headers = ()


@dataclass(frozen=True)
class TopicSpec:
    """What to create: internal topics always say their partition count and configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        return "compact" in self.config.get("cleanup.policy", "")


OffsetSpec = Literal["earliest", "latest"]


class PartitionState(NamedTuple):
    """What `streamz-kit topics` shows per partition. `bytes` is None where the broker does
    not say (Kafka through aiokafka)."""

    topic: str
    partition: int
    start_offset: int
    end_offset: int
    bytes: int | None


# Called by the consumer during a group rebalance, from inside poll(): revoked partitions
# first (the runtime commits and closes their tasks), then assigned ones.
RebalanceCallback = Callable[[set[TopicPartition]], Awaitable[None]]


class Admin(abc.ABC):
    @abc.abstractmethod
    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        """Create the topics that do not exist yet; existing ones are left as they are."""

    @abc.abstractmethod
    async def partition_counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Partition count of each topic that exists; missing topics are absent."""

    @abc.abstractmethod
    async def list_topics(self) -> list[str]: ...

    @abc.abstractmethod
    async def delete_topics(self, topics: Iterable[str]) -> None: ...

    @abc.abstractmethod
    async def list_offsets(
        self, partitions: Iterable[TopicPartition], spec: OffsetSpec
    ) -> dict[TopicPartition, int]:
        """Earliest offset, or the end offset (next offset to be written)."""

    @abc.abstractmethod
    async def committed_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Committed next-offset-to-read of the group; partitions without one are absent."""

    @abc.abstractmethod
    async def alter_group_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        """Set a group's committed offsets (used by `reset`); the group must be inactive."""

    @abc.abstractmethod
    async def delete_group(self, group_id: str) -> None: ...

    @abc.abstractmethod
    async def group_is_active(self, group_id: str) -> bool:
        """True while a worker of the group is alive (reset refuses then)."""

    async def delete_records(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Delete every record before each offset (Kafka's DeleteRecords; -1 = the end
        offset); returns each partition's new log start offset. Kafka Streams calls it on
        repartition topics once their records are committed."""
        raise BrokerError("This broker adapter cannot delete records.")

    async def alter_topic_config(self, topic: str, changes: dict[str, str | None]) -> None:
        """Set topic configs (None: back to the default), e.g. retention.ms."""
        raise BrokerError("This broker adapter cannot change topic configs.")

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, dict[str, str]]:
        """The configs set on each topic (defaults left out)."""
        return {}

    async def describe_partitions(self, topics: Iterable[str]) -> list[PartitionState]:
        """Start and end offsets (and size, where known) of every partition of `topics`."""
        names = list(topics)
        counts = await self.partition_counts(names)
        tps = [TopicPartition(t, p) for t in names if t in counts for p in range(counts[t])]
        if not tps:
            return []
        starts = await self.list_offsets(tps, "earliest")
        ends = await self.list_offsets(tps, "latest")
        return [
            PartitionState(tp.topic, tp.partition, starts.get(tp, 0), ends.get(tp, 0), None)
            for tp in tps
        ]

    async def log_file_bytes(self) -> int | None:
        """Bytes the whole log takes on disk, where the broker is a local file."""
        return None

    @abc.abstractmethod
    async def close(self) -> None: ...


class Consumer(abc.ABC):
    @abc.abstractmethod
    async def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assigned: RebalanceCallback,
        on_revoked: RebalanceCallback,
    ) -> None:
        """Join the consumer group for these topics; assignments arrive through the callbacks."""

    @abc.abstractmethod
    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read exactly these partitions, outside any group (restoration, global tables)."""

    @abc.abstractmethod
    def assignment(self) -> set[TopicPartition]: ...

    @abc.abstractmethod
    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    @abc.abstractmethod
    def position(self, partition: TopicPartition) -> int: ...

    @abc.abstractmethod
    def pause(self, partitions: Iterable[TopicPartition]) -> None: ...

    @abc.abstractmethod
    def resume(self, partitions: Iterable[TopicPartition]) -> None: ...

    @abc.abstractmethod
    async def poll(
        self, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumedRecord]]:
        """Records from the current positions (advancing them). Committed records only."""

    def request_rejoin(self) -> None:  # noqa: B027 -- a deliberate no-op default
        """Rejoin the group at the next poll (the runtime closed tasks whose commit was
        refused, so this member's assignment is stale). No-op where there is no group."""

    def rebalancing(self) -> bool:
        """True while a cooperative rebalance round runs: the tasks keep processing but the
        group refuses offset commits, so the runtime defers its periodic commit."""
        return False

    @abc.abstractmethod
    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit next-offset-to-read for the group, outside a transaction (at_least_once)."""

    @abc.abstractmethod
    async def committed(
        self, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...


class Producer(abc.ABC):
    """Appends records. Offsets of appended records come back from `flush` / `commit`."""

    transactional: bool = False
    # True when `commit_group` writes several producers' transactions in one durable step
    # (the embedded log); the runtime then commits all its tasks through it at once.
    group_commit: bool = False

    @abc.abstractmethod
    def send(self, record: ProducerRecord) -> None:
        """Queue a record; it is written by `flush` (or `commit` when transactional)."""

    def send_all(self, records: list[ProducerRecord]) -> None:
        """Queue records in order, as `send` one by one does (a producer may take the list
        in one step: the worker hands over every processed batch's outputs this way)."""
        send = self.send
        for record in records:
            send(record)

    @abc.abstractmethod
    async def flush(self) -> dict[TopicPartition, int]:
        """Write everything queued; returns the last offset written per partition."""

    async def dispatch(self) -> None:
        """Start writing everything queued without waiting for the broker's confirmation.

        at_least_once sends outputs after every processed batch; a client that can keep
        requests in flight (Kafka) overlaps them with the next poll and confirms them all at
        the next `flush`, which also reports their offsets and raises their errors. The
        default writes synchronously, as `flush` does."""
        await self.flush()

    def dispatches_in_transaction(self, commit_interval_ms: int) -> bool:
        """Whether records sent inside an open transaction may be written before its commit,
        for transactions that stay open about `commit_interval_ms` (Kafka: yes, well within
        the producer's transaction timeout, past which the broker aborts the transaction).
        Under exactly_once the runtime then dispatches each task's outputs as they are
        produced, and the commit waits only for the rest."""
        return False

    async def init_transactions(self) -> None:  # noqa: B027 -- a deliberate no-op default
        """Register the transactional id with the broker now, fencing every older producer
        with the same id and aborting its open transaction (Kafka's initTransactions). A
        task calls it before it reads its stores' changelogs and its committed offsets, so a
        zombie owner can no longer commit underneath what it reads. No-op by default."""

    async def begin(self) -> None:
        """Start a transaction (transactional producers only)."""
        raise BrokerError(
            "begin() was called on a producer that is not transactional; create it with a transactional_id (processing_guarantee='exactly_once')."
        )

    async def send_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        """Commit these consumer offsets atomically with the transaction's records."""
        raise BrokerError(
            "send_offsets() was called on a producer that is not transactional; create it with a transactional_id (processing_guarantee='exactly_once')."
        )

    async def commit(self) -> dict[TopicPartition, int]:
        """Commit the transaction; returns the last offset written per partition."""
        raise BrokerError(
            "commit() was called on a producer that is not transactional; create it with a transactional_id (processing_guarantee='exactly_once')."
        )

    @classmethod
    async def commit_group(
        cls, producers: Sequence[Producer]
    ) -> list[dict[TopicPartition, int] | BaseException]:
        """Commit the open transactions of several producers of this class (one per task
        under exactly_once), each still all-or-nothing on its own; per producer, what its
        `commit` returned or the exception it raised. By default the commits run
        concurrently; a broker that can write several transactions in one durable step
        does so (and says so with `group_commit`)."""
        return list(await asyncio.gather(*(p.commit() for p in producers), return_exceptions=True))

    async def abort(self) -> None:
        raise BrokerError(
            "abort() was called on a producer that is not transactional; create it with a transactional_id (processing_guarantee='exactly_once')."
        )

    @abc.abstractmethod
    async def close(self) -> None: ...


class Transport(abc.ABC):
    """A connection to one broker: factory for the three clients above."""

    url: str
    # True when list_offsets("latest") is exact (the embedded log). Kafka-compatible brokers
    # may answer short (Tansu) or grow meanwhile, so readers there stop on an empty fetch.
    exact_end_offsets: bool = False
    # True when committing a transaction is one local write (the embedded log): cheap
    # enough for an exactly_once worker to commit whenever it catches up with its input
    # (runtime/worker.py). On Kafka a commit costs broker round trips per task, so workers
    # there commit by the interval, as Kafka Streams does.
    local_commits: bool = False

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    def admin(self) -> Admin: ...

    @abc.abstractmethod
    def consumer(
        self, *, group_id: str | None, client_id: str = "streamz-kit", read_committed: bool = True
    ) -> Consumer: ...

    @abc.abstractmethod
    def producer(self, *, transactional_id: str | None = None) -> Producer: ...

    @abc.abstractmethod
    async def close(self) -> None: ...
