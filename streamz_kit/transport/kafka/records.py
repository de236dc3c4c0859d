"""Fetched records built as our `ConsumedRecord` by aiokafka itself, for our consumers only.

Why: aiokafka turns every fetched record into a `ConsumerRecord` dataclass (eleven fields,
two size computations, two deserializer checks, a Python `__init__`), and our consumer then
copied each one into a `ConsumedRecord`: together about 0.6 us a record, a sixth of
everything a stateless application spends per record on Kafka. Decoding the record batches
(CRC, control batches, aborted transactions under read_committed, offsets) stays aiokafka's;
only its last step, `PartitionRecords._consumer_record`, is replaced.

How it is scoped: the replacement is installed once per process on aiokafka's class, and acts
only for the fetches of a consumer whose key deserializer is `as_consumed` (our
`KafkaConsumer` passes it; `key_deserializer` is a setting users cannot pass). Every other
aiokafka consumer in the process (a user's own, a test's) gets aiokafka's method unchanged.
If aiokafka's internals differ from what this expects, nothing is installed, `INSTALLED` is
False, our consumer sets no deserializer and converts records as before.

The same marker lets `FetchResult.getall` take a partition's records for our consumers with
one C-level `islice` over aiokafka's record generator, instead of a Python `__next__` call
and a length check per record (~0.12 us a record); the positions it sets are the ones
aiokafka's loop sets (tests/transport/test_kafka_records_hook.py runs both side by side).
"""

from __future__ import annotations

import inspect
from itertools import islice
from typing import Any

from streamz_kit.transport.port import ConsumedRecord

_new = tuple.__new__


def as_consumed(key: bytes | None) -> bytes | None:
    """The marker key deserializer: the identity (all aiokafka itself ever calls it as)."""
    return key


def _install() -> bool:
    try:
        from aiokafka.consumer import fetcher
    except ImportError:  # pragma: no cover -- the kafka extra is installed wherever this runs
        return False
    cls: Any = getattr(fetcher, "PartitionRecords", None)
    original: Any = getattr(cls, "_consumer_record", None)
    if cls is None or original is None:
        return False
    if getattr(original, "streamz_kit_hook", False):
        return True
    try:
        ours = list(inspect.signature(original).parameters) == ["self", "tp", "record"]
        ours = ours and "key_deserializer" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    if not ours:
        return False

    def _consumer_record(self: Any, tp: Any, record: Any) -> Any:
        if self._key_deserializer is not as_consumed:  # noqa: SLF001 -- not our consumer
            return original(self, tp, record)
        headers = record.headers
        return _new(
            ConsumedRecord,
            (
                tp.topic,
                tp.partition,
                record.offset,
                record.timestamp,
                record.key,
                record.value,
                tuple(headers) if headers else (),
            ),
        )

    _consumer_record.streamz_kit_hook = True  # type: ignore[attr-defined]
    cls._consumer_record = _consumer_record
    return True


def _install_getall() -> bool:
    """`FetchResult.getall` for our consumers: aiokafka's own steps (assignment check,
    position update, dropping an exhausted partition's records), the records taken with
    `islice` from the generator `PartitionRecords.__next__` would step one by one."""
    from aiokafka.consumer import fetcher

    cls: Any = getattr(fetcher, "FetchResult", None)
    original: Any = getattr(cls, "getall", None)
    if cls is None or original is None:
        return False
    if getattr(original, "streamz_kit_hook", False):
        return True
    try:
        ours = list(inspect.signature(original).parameters) == ["self", "max_records"]
    except (TypeError, ValueError):
        return False
    needed = ("check_assignment", "has_more", "_update_position")
    if not ours or not all(callable(getattr(cls, name, None)) for name in needed):
        return False

    def getall(self: Any, max_records: int | None = None) -> Any:
        records = self._partition_records  # noqa: SLF001
        if (
            records is None
            or (max_records is not None and max_records < 1)  # aiokafka's loop gives one
            or getattr(records, "_key_deserializer", None) is not as_consumed
            or not hasattr(records, "_records_iterator")
        ):
            return original(self, max_records)
        if not self.check_assignment(self._topic_partition) or not self.has_more():  # noqa: SLF001
            return []
        iterator = records._records_iterator  # noqa: SLF001
        taken = [] if iterator is None else list(islice(iterator, max_records))
        if max_records is not None and len(taken) >= max_records:
            self._update_position()  # noqa: SLF001 -- the loop's `break`
        else:  # the generator ended: the loop's `else`
            records._records_iterator = None  # noqa: SLF001 -- as __next__ does
            self._update_position()  # noqa: SLF001
            self._partition_records = None  # noqa: SLF001
        return taken

    getall.streamz_kit_hook = True  # type: ignore[attr-defined]
    cls.getall = getall
    return True


INSTALLED = _install()
GETALL_INSTALLED = INSTALLED and _install_getall()
