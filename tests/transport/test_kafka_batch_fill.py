"""The Kafka producer's batch filling (`_fill`) against aiokafka's own `BatchBuilder.append`.

The producer writes records to aiokafka's C record builder directly, skipping the Python
wrapper; the batches must be byte for byte what the public `append` builds, split at the
same records when a batch fills up, with the same record counts.
"""

from __future__ import annotations

from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from streamz_kit.transport.kafka.producer import _fill
from streamz_kit.transport.port import ProducerRecord


def _records(n: int) -> list[ProducerRecord]:
    out = []
    for i in range(n):
        headers = (("trace", b"t%d" % i), ("n", b"")) if i % 3 == 0 else ()
        key = None if i % 7 == 0 else b"key-%d" % i
        value = None if i % 11 == 0 else b"v" * (i % 50)
        out.append(ProducerRecord("t", 0, key, value, 1_700_000_000_000 + i, headers))
    return out


def _public(records: list[ProducerRecord], batch_size: int) -> list[tuple[int, bytes]]:
    batches: list[tuple[int, bytes]] = []
    batch = BatchBuilder(batch_size, 0)
    for r in records:
        headers = list(r.headers)
        if batch.append(key=r.key, value=r.value, timestamp=r.timestamp, headers=headers) is None:
            batches.append((batch.record_count(), bytes(batch._build())))
            batch = BatchBuilder(batch_size, 0)
            assert batch.append(key=r.key, value=r.value, timestamp=r.timestamp, headers=headers)
    batches.append((batch.record_count(), bytes(batch._build())))
    return batches


def _filled(records: list[ProducerRecord], batch_size: int, make: Any) -> list[tuple[int, bytes]]:
    batches: list[tuple[int, bytes]] = []
    done = 0
    while True:
        batch = make(batch_size)
        done = _fill(batch, records, done)
        batches.append((batch.record_count(), bytes(batch._build())))
        if done >= len(records):
            return batches


class _Wrapped(BatchBuilder):  # type: ignore[misc]
    """Not aiokafka's own class: `_fill` must take the public path."""


def test_direct_batches_equal_the_public_ones() -> None:
    records = _records(700)
    for size in (1 << 20, 2_000, 300):  # one batch; several; a few records each
        want = _public(records, size)
        assert _filled(records, size, lambda s: BatchBuilder(s, 0)) == want
        assert _filled(records, size, lambda s: _Wrapped(s, 0)) == want
        assert sum(count for count, _ in want) == len(records)
    assert len(_public(records, 300)) > 50


def test_a_record_larger_than_the_batch_size_goes_alone_as_aiokafka_does() -> None:
    """aiokafka's builder takes any record into an empty batch (the broker judges its size)."""
    records = [ProducerRecord("t", 0, b"k", b"x" * 5_000, i, ()) for i in range(3)]
    want = _public(records, 1_000)
    assert [count for count, _ in want] == [1, 1, 1]
    assert _filled(records, 1_000, lambda s: BatchBuilder(s, 0)) == want


def test_the_queue_splits_by_partition_in_order() -> None:
    import random

    from streamz_kit.transport.kafka.producer import _by_partition

    rng = random.Random(5)
    for _ in range(200):
        queue = [
            ProducerRecord(rng.choice("ab"), rng.choice([0, 0, 0, 1, 2]), b"%d" % i, b"", i, ())
            for i in range(rng.randrange(0, 40))
        ]
        want: dict[tuple[str, int], list[ProducerRecord]] = {}
        for r in queue:
            want.setdefault((r.topic, r.partition), []).append(r)
        assert _by_partition(queue) == want
        assert list(_by_partition(queue)) == list(want)  # first-seen order, as before
