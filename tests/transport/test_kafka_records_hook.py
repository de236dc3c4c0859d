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
