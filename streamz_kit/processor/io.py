"""Source and sink nodes: where bytes become objects and objects become bytes, once each."""

from __future__ import annotations

from typing import Any, Callable

from streamz_kit.errors import DeserializationError, ProductionError
from streamz_kit.processor.node import Headers, Node
from streamz_kit.runtime.partitioner import default_partition
from streamz_kit.serdes import Serde
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord

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

    def init(self, task: Any) -> None:
        super().init(task)
        if self.topic is not None:
            self._resolved_topic = task.resolve_topic(self.topic, self.internal)

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        task = self.task
        assert task is not None
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
        if size > task.max_record_bytes:
            raise ProductionError(
                self.name,
                ValueError(
                    f"record of {size} bytes for topic {topic!r} is larger than "
                    f"max_record_bytes={task.max_record_bytes}"
                ),
            )
        num_partitions = task.partition_count(topic)
        partition: int | None = None
        if self.partitioner is not None:
            try:
                partition = self.partitioner(topic, key, value, num_partitions)
            except Exception as exc:
                raise self.fail(exc) from exc
        if partition is None:
            partition = default_partition(key_bytes, num_partitions)
        task.collector.append(
            ProducerRecord(topic, partition, key_bytes, value_bytes, timestamp, headers)
        )
