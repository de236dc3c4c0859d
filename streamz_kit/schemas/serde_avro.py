"""`serdes.avro`: Avro in Confluent's wire format, through fastavro.

Reading resolves the writer's schema (fetched by id, parsed once) against this serde's
schema, so a reader with a newer compatible schema reads old records (defaults fill new
fields, promotions apply). Without a reader schema (`schema=None`) records come back as the
writer wrote them.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from streamz_kit.schemas import models, wire
from streamz_kit.schemas.registry import SchemaRegistry
from streamz_kit.schemas.serde_base import RegistrySerde
from streamz_kit.schemas.strategies import Strategy
from streamz_kit.schemas.types import Schema

_unpack_id = struct.Struct(">I").unpack_from


class AvroSerde(RegistrySerde):
    schema_type = "AVRO"
    kind = "Avro"

    def __init__(
        self,
        schema: Any,
        *,
        registry: SchemaRegistry,
        key: bool = False,
        auto_register: bool = True,
        use_latest_version: bool = False,
        subject_name_strategy: str | Strategy = "topic",
    ) -> None:
        import fastavro

        super().__init__(
            registry,
            key=key,
            auto_register=auto_register,
            use_latest_version=use_latest_version,
            subject_name_strategy=subject_name_strategy,
        )
        self._fastavro = fastavro
        self.model = schema if models.is_model(schema) else None
        if self.model is not None:
            schema = models.avro_schema(self.model)
        if isinstance(schema, str):
            text = schema
            schema = json.loads(schema) if schema.lstrip()[:1] in ("{", "[", '"') else schema
        else:
            text = json.dumps(schema) if schema is not None else ""
        self.schema_dict = schema
        self.schema = Schema(text, "AVRO")
        self._parsed = fastavro.parse_schema(schema) if schema is not None else None
        if isinstance(schema, dict):
            ns = schema.get("namespace")
            name = str(schema.get("name", ""))
            self.record_name = f"{ns}.{name}" if ns and "." not in name else name or None
        self._to_dict = models.to_dict if self.model is not None else None
        self._from_dict = models.from_dict(self.model) if self.model is not None else None
        self._identity = self.schema.identity()
        self._read = fastavro.schemaless_reader

    def writer_state(self, schema: Schema) -> Any:
        if schema.identity() == self._identity and self._parsed is not None:
            return self._parsed
        return self._fastavro.parse_schema(json.loads(schema.schema_str))

    def reader_state(self, schema_id: int, schema: Schema) -> Any:
        writer = self._fastavro.parse_schema(json.loads(schema.schema_str))
        same = self._parsed is None or schema.identity() == self._identity
        return writer, None if same else self._parsed

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        found = self._writers.get(topic)
        head, parsed = found if found is not None else self._writer(topic)
        record = obj if self._to_dict is None else self._to_dict(obj)
        buf = io.BytesIO()
        buf.write(head)
        try:
            self._fastavro.schemaless_writer(buf, parsed, record)
        except Exception as exc:
            raise self._bad_value(topic, obj, exc) from exc
        return buf.getvalue()

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < wire.HEADER_SIZE or data[0]:
            wire.split(topic, data)  # raises the sentence about the missing frame
        schema_id = _unpack_id(data, 1)[0]
        state = self._readers.get(schema_id)
        if state is None:
            state = self._reader(topic, schema_id)
        writer, reader = state
        buf = io.BytesIO(data)
        buf.seek(wire.HEADER_SIZE)
        try:
            # Without a reader schema, leave the argument out: fastavro's fast path.
            value = self._read(buf, writer) if reader is None else self._read(buf, writer, reader)
            if buf.tell() != len(data):
                raise ValueError(f"{len(data) - buf.tell()} bytes left over after the record")
        except Exception as exc:
            raise self._bad_payload(topic, schema_id, exc) from exc
        return value if self._from_dict is None else self._from_dict(value)
