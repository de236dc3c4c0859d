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
"""

from __future__ import annotations

import inspect
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


INSTALLED = _install()
