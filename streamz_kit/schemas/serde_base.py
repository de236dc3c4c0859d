"""What the three registry serdes share: subjects, schema ids, caches and error sentences.

The hot path is two dict lookups per record: the writer (schema id header and encoder) by
topic, the reader (decoder) by schema id. Registry calls and schema parsing happen once per
topic and once per writer schema id, never per record.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.schemas import wire
from streamz_kit.schemas.errors import RegistryError, SchemaSerdeError
from streamz_kit.schemas.registry import SchemaRegistry
from streamz_kit.schemas.strategies import Strategy, resolve
from streamz_kit.schemas.types import Schema


class RegistrySerde:
    """Base of `serdes.avro`, `serdes.json_schema` and `serdes.protobuf`."""

    schema_type = "AVRO"
    kind = "Avro"

    def __init__(
        self,
        registry: SchemaRegistry,
        *,
        key: bool = False,
        auto_register: bool = True,
        use_latest_version: bool = False,
        subject_name_strategy: str | Strategy = "topic",
    ) -> None:
        if not isinstance(registry, SchemaRegistry):
            raise TypeError(f"registry must be a streamz_kit.SchemaRegistry, not {registry!r}")
        self.registry = registry
        self.is_key = key
        self.auto_register = auto_register
        self.use_latest_version = use_latest_version
        self.strategy = resolve(subject_name_strategy)
        self._writers: dict[str, tuple[bytes, Any]] = {}
        self._readers: dict[int, Any] = {}

    # -- what each serde provides ---------------------------------------------------------
    schema: Schema
    record_name: str | None = None

    def writer_state(self, schema: Schema) -> Any:
        """What `encode` needs for a writer schema (parsed once per topic)."""
        raise NotImplementedError

    def reader_state(self, schema_id: int, schema: Schema) -> Any:
        """What `decode` needs for records written with `schema` (once per id)."""
        raise NotImplementedError

    # -- subjects and ids -----------------------------------------------------------------
    def subject(self, topic: str) -> str:
        return self.strategy(topic, self.is_key, self.record_name)

    def prepare(self, topic: str) -> None:
        """Resolve (and register, if asked) the writer schema for `topic` now: a sink calls
        this when its task starts, so an incompatible schema fails before anything is
        produced."""
        self._writer(topic)

    def _writer(self, topic: str) -> tuple[bytes, Any]:
        found = self._writers.get(topic)
        if found is not None:
            return found
        subject = self.subject(topic)
        try:
            if self.use_latest_version:
                latest = self.registry.get_latest_version(subject)
                schema_id, schema = latest.schema_id, latest.schema
            elif self.auto_register:
                schema_id, schema = self.registry.register(subject, self.schema), self.schema
            else:
                schema_id, schema = (
                    self.registry.lookup(subject, self.schema).schema_id,
                    self.schema,
                )
        except RegistryError as exc:
            how = (
                "reading its latest version"
                if self.use_latest_version
                else "registering it"
                if self.auto_register
                else "looking it up"
            )
            raise type(exc)(
                f"The {self.kind} {'key' if self.is_key else 'value'} schema for topic "
                f"{topic!r} (subject {subject!r}) could not be used: {how} failed: {exc}",
                **_error_args(exc),
            ) from exc
        found = (wire.header(schema_id), self.writer_state(schema))
        self._writers[topic] = found
        return found

    def _reader(self, topic: str, schema_id: int) -> Any:
        try:
            schema = self.registry.get_schema(schema_id)
        except RegistryError as exc:
            raise SchemaSerdeError(
                f"The {self.kind} schema id {schema_id} of a record on topic {topic!r} could "
                f"not be fetched from the registry at {self.registry.url}: {exc}"
            ) from exc
        if schema.schema_type != self.schema_type:
            raise SchemaSerdeError(
                f"The record on topic {topic!r} was written with schema id {schema_id}, a "
                f"{schema.schema_type} schema, but this is a {self.kind} serde; read the topic "
                "with the serde of its producer."
            )
        state = self.reader_state(schema_id, schema)
        self._readers[schema_id] = state
        return state

    def _bad_payload(self, topic: str, schema_id: int, exc: Exception) -> SchemaSerdeError:
        return SchemaSerdeError(
            f"The {self.kind} payload on topic {topic!r} does not match its writer schema "
            f"(id {schema_id}): {type(exc).__name__}: {exc}. The producer wrote bytes its "
            "schema does not describe; fix the producer or skip the record with a "
            "deserialization error handler."
        )

    def _bad_value(self, topic: str, obj: Any, exc: Exception) -> SchemaSerdeError:
        return SchemaSerdeError(
            f"Cannot serialize {type(obj).__name__} {obj!r:.100} for topic {topic!r} with the "
            f"{self.kind} schema {self.record_name or ''}: {type(exc).__name__}: {exc}. Make the "
            "value match the schema (field names and types)."
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.record_name or self.schema_type}, registry={self.registry.url!r})"


def _error_args(exc: RegistryError) -> dict[str, Any]:
    from streamz_kit.schemas.errors import IncompatibleSchemaError

    if isinstance(exc, IncompatibleSchemaError):
        return {"messages": exc.messages}
    return {"status": exc.status, "error_code": exc.error_code}
