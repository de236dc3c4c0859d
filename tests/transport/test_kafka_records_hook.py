"""aiokafka builds our ConsumedRecords for our consumers, and only for them (kafka/records.py).

The records of a fetched batch, decoded by aiokafka's own PartitionRecords, must come out
as `ConsumedRecord`s with the fields aiokafka would have put in its `ConsumerRecord` when
the consumer is ours, and as aiokafka's unchanged `ConsumerRecord`s for any other consumer
in the same process. Real-Kafka reads (offsets, keys, values, headers, read_committed) are
covered by tests/kafka through `KafkaConsumer.poll`.
"""

from __future__ import annotations

from typing import Any

from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord, TopicPartition

from streamz_kit.transport.kafka import records
from streamz_kit.transport.kafka.consumer import KafkaConsumer
from streamz_kit.transport.port import ConsumedRecord

ROWS: list[tuple[bytes | None, bytes | None, int, list[tuple[str, bytes]]]] = [
    (b"k1", b"v1", 1_700_000_000_000, []),
    (None, b"v2", 1_700_000_000_001, [("trace", b"t"), ("empty", b"")]),
    (b"k3", None, 1_700_000_000_002, []),
]


def _fetched(key_deserializer: Any) -> list[Any]:
    batch = BatchBuilder(1 << 16, 0)
    for key, value, ts, headers in ROWS:
        assert batch.append(key=key, value=value, timestamp=ts, headers=headers)
    buffer = bytes(batch._build())
    tp = TopicPartition("in", 3)
    return list(PartitionRecords(tp, MemoryRecords(buffer), [], 0, key_deserializer, None, True, 0))


def test_the_hook_is_installed_on_this_aiokafka() -> None:
    assert records.INSTALLED


def test_our_consumer_gets_consumed_records_with_aiokafkas_fields() -> None:
    ours = _fetched(records.as_consumed)
    plain = _fetched(None)
    assert all(type(r) is ConsumedRecord for r in ours)
    assert all(type(r) is ConsumerRecord for r in plain)
    assert ours == [
        ConsumedRecord("in", 3, p.offset, p.timestamp, p.key, p.value, p.headers) for p in plain
    ]
    assert [(r.offset, r.key, r.value, r.headers) for r in ours] == [
        (0, b"k1", b"v1", ()),
        (1, None, b"v2", (("trace", b"t"), ("empty", b""))),
        (2, b"k3", None, ()),
    ]


def test_other_deserializers_still_run() -> None:
    upper = _fetched(lambda k: None if k is None else k.upper())
    assert [type(r) for r in upper] == [ConsumerRecord] * 3
    assert [r.key for r in upper] == [b"K1", None, b"K3"]


def test_our_consumer_asks_aiokafka_for_the_marker() -> None:
    from streamz_kit.transport.kafka._client import KafkaSettings

    consumer = KafkaConsumer(
        KafkaSettings.build("127.0.0.1:9", {}),
        admin=None,  # type: ignore[arg-type]
        group_id=None,
        client_id="c",
        read_committed=True,
    )
    assert consumer._kwargs["key_deserializer"] is records.as_consumed


# -- FetchResult.getall for our consumers, against aiokafka's own loop ----------------------
class _State:
    def __init__(self, position: int) -> None:
        self.paused = False
        self.position = position

    def consumed_to(self, offset: int) -> None:
        self.position = offset


class _Assignment:
    """What FetchResult asks of aiokafka's assignment: active, and one partition's state."""

    active = True

    def __init__(self, position: int) -> None:
        self.state = _State(position)

    def state_value(self, tp: Any) -> _State:
        return self.state


def _batches(layout: list[tuple[int, int]]) -> bytes:
    """Record batches at the given (base offset, record count), concatenated as a fetch
    response holds them; gaps between batches stand for compacted-away records."""
    import struct

    out = b""
    for base, count in layout:
        batch = BatchBuilder(1 << 16, 0)
        for i in range(count):
            assert batch.append(key=b"k%d" % (base + i), value=b"v", timestamp=base + i)
        raw = bytearray(batch._build())
        raw[0:8] = struct.pack(">q", base)  # the base offset is outside the batch's CRC
        out += bytes(raw)
    return out


def _drain(getall: Any, buffer: bytes, start: int, sizes: list[int | None]) -> list[Any]:
    from aiokafka.consumer.fetcher import FetchResult

    tp = TopicPartition("in", 0)
    assignment = _Assignment(start)
    partition_records = PartitionRecords(
        tp, MemoryRecords(buffer), [], start, records.as_consumed, None, True, 0
    )
    result = FetchResult(tp, assignment=assignment, partition_records=partition_records, backoff=0)
    seen = []
    for size in sizes:
        if not result.has_more():  # aiokafka drops a drained result, never asks again
            break
        got = getall(result, size)
        seen.append(
            ([(r.offset, r.key) for r in got], assignment.state.position, result.has_more())
        )
    return seen


def test_getall_takes_what_aiokafkas_loop_takes_and_moves_positions_alike() -> None:
    from aiokafka.consumer.fetcher import FetchResult

    assert records.GETALL_INSTALLED
    patched = FetchResult.getall
    original = patched.__closure__[patched.__code__.co_freevars.index("original")].cell_contents
    buffer = _batches([(0, 5), (7, 3), (20, 4)])  # 12 records, gaps after 4 and 9
    plans: list[list[int | None]] = [
        [None, None],
        [3, 3, 3, 3, 3, None],
        [5, 3, 4, 1, 1],  # ends exactly at batch ends: the generator finishes one call later
        [12, 1, None],
        [100],
        [1] * 14,
    ]
    for start in (0, 2, 7, 21):  # a fetch may begin inside a batch: earlier records skipped
        for sizes in plans:
            want = _drain(original, buffer, start, sizes)
            assert _drain(patched, buffer, start, sizes) == want, (start, sizes)
    # the last batch's end moves the position past the gap at once, as aiokafka does
    assert _drain(patched, buffer, 0, [None])[0][1] == 24
