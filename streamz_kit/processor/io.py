"""Source and sink nodes: where bytes become objects and objects become bytes, once each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.errors import DeserializationError, ProductionError
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Headers, Node
from streamz_kit.serdes import Serde, fast_dumper, fast_loader
from streamz_kit.transport.partitioner import default_partition
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord

_new_tuple = tuple.__new__

TimestampExtractor = Callable[[Any, Any, int], int]


class SourceNode(Node):
    kind = "Source"

    def __init__(
        self,
        name: str,
        topics: list[str],
        key_serde: Serde,
        value_serde: Serde,
        timestamp_extractor: TimestampExtractor | None = None,
    ) -> None:
        super().__init__(name)
        self.topics = topics
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.timestamp_extractor = timestamp_extractor
        key_loads, value_loads = fast_loader(key_serde), fast_loader(value_serde)
        self._fast = (
            (key_loads, value_loads) if key_loads is not None and value_loads is not None else None
        )

    def fast_loads(self, topic: str) -> tuple[Any, Any] | None:
        """C-level (key, value) loaders for a batch of `topic`, when both serdes have them
        (`Task.process_batch` falls back to `deserialize` on any failure)."""
        return self._fast

    def deserialize(self, record: ConsumedRecord) -> tuple[Any, Any]:
        """Key and value objects; a failure names the record and shows its bytes."""
        try:
            key = self.key_serde.deserialize(record.topic, record.key)
        except Exception as exc:
            raise self._bad(record, "key", exc) from exc
        try:
            value = self.value_serde.deserialize(record.topic, record.value)
        except Exception as exc:
            raise self._bad(record, "value", exc) from exc
        return key, value

    def _bad(self, record: ConsumedRecord, part: str, exc: Exception) -> DeserializationError:
        return DeserializationError(
            f"Could not deserialize the {part} of the record at {record.topic}-"
            f"{record.partition}@{record.offset} (source {self.name}): {exc} "
            "Fix the producer, pass the right serde to builder.stream(), or configure a "
            "deserialization error handler (log_and_continue or dead_letter).",
            node=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def extract_timestamp(self, key: Any, value: Any, record_timestamp: int) -> int:
        if self.timestamp_extractor is None:
            return record_timestamp
        try:
            return int(self.timestamp_extractor(key, value, record_timestamp))
        except Exception as exc:
            raise self.fail(exc) from exc


TopicChooser = Callable[[Any, Any], str]
Partitioner = Callable[[str, Any, Any, int], int | None]


class SinkNode(Node):
    kind = "Sink"

    def __init__(
        self,
        name: str,
        topic: str | None,
        key_serde: Serde,
        value_serde: Serde,
        topic_chooser: TopicChooser | None = None,
        partitioner: Partitioner | None = None,
        internal: bool = False,
    ) -> None:
        super().__init__(name)
        self.topic = topic
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.topic_chooser = topic_chooser
        self.partitioner = partitioner
        self.internal = internal
        self._resolved_topic: str | None = None
        self._key_dumps = fast_dumper(key_serde)
        self._value_dumps = fast_dumper(value_serde)
        self._width = 0
        self._partition_of: dict[bytes, int] = {}
        if (
            topic is not None
            and partitioner is None
            and self._key_dumps is not None
            and self._value_dumps is not None
        ):
            # Bound now, before the parent nodes capture `process` at wiring.
            self.process = self._process_fixed  # type: ignore[method-assign]

    def init(self, context: TaskContext) -> None:
        super().init(context)
        if self.topic is not None:
            self._resolved_topic = context.resolve_topic(self.topic, self.internal)
            for serde in (self.key_serde, self.value_serde):
                prepare = getattr(serde, "prepare", None)  # registry serdes: register now
                if prepare is not None:
                    prepare(self._resolved_topic)

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        context = self.context
        topic = self._resolved_topic
        if topic is None:
            try:
                topic = str(self.topic_chooser(key, value))  # type: ignore[misc]
            except Exception as exc:
                raise self.fail(exc) from exc
        try:
            key_bytes = self.key_serde.serialize(topic, key)
            value_bytes = self.value_serde.serialize(topic, value)
        except Exception as exc:
            raise ProductionError(self.name, exc) from exc
        size = (len(key_bytes) if key_bytes else 0) + (len(value_bytes) if value_bytes else 0)
        if size > context.max_record_bytes:
            raise ProductionError(
                self.name,
                ValueError(
                    f"record of {size} bytes for topic {topic!r} is larger than "
                    f"max_record_bytes={context.max_record_bytes}"
                ),
            )
        num_partitions = context.partition_count(topic)
        partition: int | None = None
        if self.partitioner is not None:
            try:
                partition = self.partitioner(topic, key, value, num_partitions)
            except Exception as exc:
                raise self.fail(exc) from exc
        if partition is None:
            partition = default_partition(key_bytes, num_partitions)
        context.collector.append(
            ProducerRecord(topic, partition, key_bytes, value_bytes, timestamp, headers)
        )

    def _process_fixed(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        """`process` for the common sink: one topic, the default partitioner, built-in
        serdes. Same results, a third of the per-record work; anything unusual (a failing
        serialization, an oversized record) goes through the general `process`."""
        try:
            key_bytes = None if key is None else self._key_dumps(key)  # type: ignore[misc]
            value_bytes = None if value is None else self._value_dumps(value)  # type: ignore[misc]
        except Exception:
            SinkNode.process(self, key, value, timestamp, headers)
            return
        context = self.context
        if (len(key_bytes) if key_bytes else 0) + (
            len(value_bytes) if value_bytes else 0
        ) > context.max_record_bytes:
            SinkNode.process(self, key, value, timestamp, headers)
            return
        if key_bytes is None:
            partition = default_partition(None, self._width or self._resolve_width())
        else:
            partition = self._partition_of.get(key_bytes)  # type: ignore[assignment]
            if partition is None:
                partition = default_partition(key_bytes, self._width or self._resolve_width())
                if len(self._partition_of) > 100_000:
                    self._partition_of.clear()
                self._partition_of[key_bytes] = partition
        context.collector.append(
            _new_tuple(
                ProducerRecord,
                (self._resolved_topic, partition, key_bytes, value_bytes, timestamp, headers),
            )
        )

    def _resolve_width(self) -> int:
        assert self._resolved_topic is not None
        self._width = self.context.partition_count(self._resolved_topic)
        return self._width
