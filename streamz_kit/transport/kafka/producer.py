"""`Producer` on aiokafka's AIOKafkaProducer, writing whole batches.

`send()` only appends to a list (it runs once per record on the hot path). `dispatch()`,
`flush()` and `commit()` group the queue by partition and append each partition's records
as a few large record batches (`create_batch` / `send_batch`), all partitions concurrently.
`dispatch()` returns once the batches are queued in aiokafka (so producing overlaps the next
poll and processing); `flush()` / `commit()` also wait for every outstanding batch. Offsets
come back per batch (base offset + count - 1 is the last one written).

Transactions (exactly_once) follow Kafka's protocol: `begin`, records, `send_offsets`
(the consumer offsets ride in the transaction), `commit` or `abort`. Brokers that cannot
start a transactional producer (Tansu rejects InitProducerId v0) are reported as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerFenced
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import TopicPartition as KTP

from streamz_kit.errors import BrokerError, ProducerFencedError
from streamz_kit.transport.kafka._client import KafkaSettings, broker_error, start_client
from streamz_kit.transport.port import Producer, ProducerRecord, TopicPartition


def _fenced(transactional_id: str | None, exc: BaseException) -> ProducerFencedError:
    return ProducerFencedError(
        f"Producer {transactional_id!r} was fenced: a newer producer with the same "
        f"transactional id took over ({type(exc).__name__}); close this task without "
        "committing, its new owner carries on."
    )


def _too_large(topic: str, partition: int) -> BrokerError:
    return BrokerError(
        f"A record for {topic}[{partition}] is larger than the producer's max_batch_size; "
        "raise max_batch_size (and max_request_size, and the topic's max.message.bytes)."
    )


# A transaction stays open about one commit interval when records are dispatched into it:
# keep that under a quarter of the transaction timeout (aiokafka's default: 60 s).
_OPEN_TRANSACTION_SHARE = 4


class KafkaProducer(Producer):
    def __init__(self, settings: KafkaSettings, *, transactional_id: str | None) -> None:
        self._settings = settings
        self.transactional_id = transactional_id
        self.transactional = transactional_id is not None
        fixed: dict[str, Any] = {}
        if transactional_id is not None:
            fixed["transactional_id"] = transactional_id
        self._kwargs = settings.producer_kwargs(**fixed)
        self._client: AIOKafkaProducer | None = None
        self._queue: list[ProducerRecord] = []
        # Batches handed to aiokafka and not yet confirmed, and confirmed last offsets not yet
        # reported: `flush` awaits the first and returns the second.
        self._inflight: list[tuple[TopicPartition, int, asyncio.Future[Any]]] = []
        self._delivered: dict[TopicPartition, int] = {}
        self._in_transaction = False

    async def _started(self) -> AIOKafkaProducer:
        if self._client is None:
            try:
                client: AIOKafkaProducer = await start_client(
                    self._settings,
                    lambda: AIOKafkaProducer(**self._kwargs),
                    lambda p: p.start(),
                    lambda p: p.stop(),
                    "transactional producer" if self.transactional else "producer",
                )
                self._client = client
            except ProducerFenced as exc:
                raise _fenced(self.transactional_id, exc) from exc
            except KafkaError as exc:
                if self.transactional:
                    raise BrokerError(
                        f"Kafka at {self._settings.bootstrap_servers} refused to start a "
                        f"transactional producer ({type(exc).__name__}: {exc}): this broker "
                        "does not support transactions; use "
                        "processing_guarantee='at_least_once' or a broker that does."
                    ) from exc
                raise broker_error(exc, "start a producer") from exc
        return self._client

    def dispatches_in_transaction(self, commit_interval_ms: int) -> bool:
        timeout_ms = int(self._kwargs.get("transaction_timeout_ms", 60_000))
        return self.transactional and commit_interval_ms * _OPEN_TRANSACTION_SHARE <= timeout_ms

    def send(self, record: ProducerRecord) -> None:
        self._queue.append(record)

    def send_all(self, records: list[ProducerRecord]) -> None:
        self._queue += records

    async def dispatch(self) -> None:
        """Hand the queue to aiokafka's sender and return without waiting for acks; a
        delivery that already failed is raised here, the rest at the next `flush`."""
        await self._enqueue()
        still: list[tuple[TopicPartition, int, asyncio.Future[Any]]] = []
        for tp, count, future in self._inflight:
            if future.done():
                self._note_delivered(tp, count, future)
            else:
                still.append((tp, count, future))
        self._inflight = still

    async def _write(self) -> dict[TopicPartition, int]:
        await self._enqueue()
        inflight, self._inflight = self._inflight, []
        try:
            for tp, count, future in inflight:
                await asyncio.wait({future})
                self._note_delivered(tp, count, future)
        finally:
            written, self._delivered = self._delivered, {}
        return written

    def _note_delivered(self, tp: TopicPartition, count: int, future: asyncio.Future[Any]) -> None:
        with self._translated(f"write records to {tp.topic}[{tp.partition}]"):
            meta = future.result()
        last = meta.offset + count - 1
        if last > self._delivered.get(tp, -1):
            self._delivered[tp] = last

    async def _enqueue(self) -> None:
        """Group the queue by partition and append each partition's records to aiokafka's
        accumulator as full batches, all partitions concurrently (waits only for room)."""
        queue, self._queue = self._queue, []
        if not queue:
            return
        client = await self._started()
        by_partition = _by_partition(queue)
        with self._translated(f"write records to {sorted(by_partition)}"):
            results = await asyncio.gather(
                *(
                    self._enqueue_partition(client, t, p, recs)
                    for (t, p), recs in by_partition.items()
                )
            )
        for (t, p), pending in zip(by_partition, results):
            tp = TopicPartition(t, p)
            self._inflight.extend((tp, count, future) for count, future in pending)

    @staticmethod
    async def _enqueue_partition(
        client: AIOKafkaProducer, topic: str, partition: int, records: list[ProducerRecord]
    ) -> list[tuple[int, asyncio.Future[Any]]]:
        """One partition's records in order as full batches; their delivery futures."""
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        done, n = 0, len(records)
        while True:
            batch = client.create_batch()
            done = _fill(batch, records, done)
            count = batch.record_count()
            if count == 0 and done < n:
                raise _too_large(topic, partition)
            batch.close()
            pending.append((count, await client.send_batch(batch, topic, partition=partition)))
            if done >= n:
                return pending

    async def flush(self) -> dict[TopicPartition, int]:
        if self._in_transaction:
            raise BrokerError(
                "flush() was called inside a transaction; use commit() to write and commit it."
            )
        return await self._write()

    async def init_transactions(self) -> None:
        """InitProducerId: bumps the epoch of this transactional id, so the broker refuses
        any older producer with the same id (a zombie) and aborts its open transaction."""
        self._require_transactional("init_transactions")
        await self._started()

    async def begin(self) -> None:
        self._require_transactional("begin")
        client = await self._started()
        with self._translated("begin a transaction"):
            await client.begin_transaction()
        self._in_transaction = True

    async def send_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        self._require_transactional("send_offsets")
        client = await self._started()
        with self._translated(f"add offsets of group {group_id!r} to the transaction"):
            await client.send_offsets_to_transaction(
                {KTP(*tp): off for tp, off in offsets.items()}, group_id
            )

    async def commit(self) -> dict[TopicPartition, int]:
        self._require_transactional("commit")
        written = await self._write()
        client = await self._started()
        with self._translated("commit the transaction"):
            await client.commit_transaction()
        self._in_transaction = False
        return written

    async def abort(self) -> None:
        self._require_transactional("abort")
        self._queue = []
        _forget_failed_deliveries(self._inflight)
        self._inflight = []
        self._delivered = {}
        client = await self._started()
        with self._translated("abort the transaction"):
            await client.abort_transaction()
        self._in_transaction = False

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """aiokafka's errors as ours: a fenced producer, or a broker error saying `what` failed."""
        try:
            yield
        except ProducerFenced as exc:
            raise _fenced(self.transactional_id, exc) from exc
        except KafkaError as exc:
            raise broker_error(exc, what) from exc

    def _require_transactional(self, what: str) -> None:
        if not self.transactional:
            raise BrokerError(
                f"{what}() was called on a producer that is not transactional; create it "
                "with a transactional_id (processing_guarantee='exactly_once')."
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        self._queue = []
        _forget_failed_deliveries(self._inflight)
        self._inflight = []
        self._delivered = {}
        if client is not None:
            _forget_fatal_error(client)
            await client.stop()


def _by_partition(queue: list[ProducerRecord]) -> dict[tuple[str, int], list[ProducerRecord]]:
    """The queue split by partition, each in queue order. A task's outputs arrive together
    and mostly for few partitions, so the lookup runs once per run of one partition rather
    than once per record (half the cost)."""
    groups: dict[tuple[str, int], list[ProducerRecord]] = {}
    topic: str | None = None
    partition = -1
    bucket: list[ProducerRecord] = []
    for record in queue:
        if record.partition != partition or record.topic != topic:
            topic, partition = record.topic, record.partition
            found = groups.get((topic, partition))
            if found is None:
                found = groups[(topic, partition)] = []
            bucket = found
        bucket.append(record)
    return groups


_NO_HEADERS: list[tuple[str, bytes]] = []  # read, never kept, by aiokafka's record builder


def _fill(batch: Any, records: list[ProducerRecord], start: int) -> int:
    """Append `records[start:]` to `batch` until it is full; the index of the first record
    left out (len(records) when all went in).

    Why not `batch.append(...)` per record: aiokafka's `BatchBuilder.append` is a Python
    wrapper (keyword arguments, a serializer step, a frame) around its C record builder's
    `append`, and it cost about as much as the encoding itself. Our producers have no
    serializers, so the records go to the C builder directly, with the relative offset the
    wrapper would have counted; any other batch type takes the public path.
    """
    n = len(records)
    builder = getattr(batch, "_builder", None)
    if (
        type(batch) is not BatchBuilder
        or builder is None
        or batch._closed  # noqa: SLF001
        or batch._key_serializer is not None  # noqa: SLF001
        or batch._value_serializer is not None  # noqa: SLF001
    ):
        append = batch.append
        for i in range(start, n):
            r = records[i]
            # aiokafka's C batch builder wants headers as a list
            as_list = list(r.headers) if r.headers else []
            if append(key=r.key, value=r.value, timestamp=r.timestamp, headers=as_list) is None:
                return i
        return n
    raw = builder.append
    offset = batch._relative_offset  # noqa: SLF001
    try:
        for i in range(start, n):
            r = records[i]
            headers = r.headers
            if (
                raw(offset, r.timestamp, r.key, r.value, list(headers) if headers else _NO_HEADERS)
                is None
            ):
                batch.close()
                return i
            offset += 1
        return n
    finally:
        batch._relative_offset = offset  # noqa: SLF001


def _forget_fatal_error(client: AIOKafkaProducer) -> None:
    """A fenced aiokafka producer keeps the error in a future nobody awaits, which asyncio
    prints with a traceback when the producer is collected; we reported it already."""
    waiter = getattr(getattr(client, "_txn_manager", None), "_transaction_waiter", None)
    if isinstance(waiter, asyncio.Future) and waiter.done() and not waiter.cancelled():
        waiter.exception()


def _forget_failed_deliveries(
    inflight: list[tuple[TopicPartition, int, asyncio.Future[Any]]],
) -> None:
    """Batches dropped unconfirmed (a fenced or aborted transaction, a closed producer) fail
    with the error already reported elsewhere; retrieve it, so asyncio does not print each
    one with a traceback when the future is collected."""
    for _, _, future in inflight:
        if future.done():
            if not future.cancelled():
                future.exception()
        else:
            future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
