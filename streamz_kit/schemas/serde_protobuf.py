"""`serdes.protobuf`: Protobuf messages in Confluent's wire format.

The schema registered is the message's .proto file as a base64 FileDescriptorProto, as
confluent-kafka's serializer registers it, with each imported file registered first under its
file name (Confluent's default reference subject) and listed as a reference (except the
well-known google/protobuf types, as Confluent's serializer skips them). After the schema
id come the message indexes (the message's path inside its file), then the message bytes.

Reading parses with this serde's message class: Protobuf's wire format is its own schema
resolution (unknown fields are kept, missing ones take defaults). The writer's schema is
fetched once per id to check that the record holds the same message type.
"""

from __future__ import annotations

import base64
from typing import Any

from streamz_kit.schemas import wire
from streamz_kit.schemas.errors import SchemaSerdeError
from streamz_kit.schemas.registry import SchemaRegistry
from streamz_kit.schemas.serde_base import RegistrySerde
from streamz_kit.schemas.strategies import Strategy
from streamz_kit.schemas.types import Reference, Schema


def message_indexes(descriptor: Any) -> list[int]:
    """The path of a message inside its file: top-level index, then nested indexes."""
    path: list[int] = []
    current = descriptor
    while current.containing_type is not None:
        parent = current.containing_type
        path.insert(0, list(parent.nested_types).index(current))
        current = parent
    path.insert(0, list(current.file.message_types_by_name).index(current.name))
    return path


# Well-known types every reader has built in; Confluent's serializers (skip.known.types, on by
# default) do not register them as references, and neither do we, so both give the same id.
_BUILTIN = ("google/protobuf/", "google/type/", "confluent/")


def _file_schema(file_descriptor: Any) -> str:
    return base64.standard_b64encode(file_descriptor.serialized_pb).decode("ascii")


class ProtobufSerde(RegistrySerde):
    schema_type = "PROTOBUF"
    kind = "Protobuf"

    def __init__(
        self,
        message_class: Any,
        *,
        registry: SchemaRegistry,
        key: bool = False,
        auto_register: bool = True,
        use_latest_version: bool = False,
        subject_name_strategy: str | Strategy = "topic",
    ) -> None:
        super().__init__(
            registry,
            key=key,
            auto_register=auto_register,
            use_latest_version=use_latest_version,
            subject_name_strategy=subject_name_strategy,
        )
        descriptor = getattr(message_class, "DESCRIPTOR", None)
        if descriptor is None or not hasattr(descriptor, "full_name"):
            raise TypeError(
                f"serdes.protobuf needs a generated message class, not {message_class!r}"
            )
        self.message_class = message_class
        self.record_name = descriptor.full_name
        self._indexes = message_indexes(descriptor)
        self._index_bytes = wire.encode_indexes(self._indexes)
        self._refs_done = False
        self.schema = Schema(
            _file_schema(descriptor.file),
            "PROTOBUF",
            self._references(descriptor.file, register=False),
        )

    def _references(self, file_descriptor: Any, *, register: bool) -> tuple[Reference, ...]:
        refs = []
        for dep in file_descriptor.dependencies:
            if dep.name.startswith(_BUILTIN):
                continue
            dep_refs = self._references(dep, register=register)
            version = -1
            if register:
                reg = self.registry.register_full(
                    dep.name, Schema(_file_schema(dep), "PROTOBUF", dep_refs)
                )
                version = reg.version
            refs.append(Reference(dep.name, dep.name, version))
        return tuple(refs)

    def _writer(self, topic: str) -> tuple[bytes, Any]:
        if not self._refs_done and self.schema.references:
            refs = (
                self._references(self.message_class.DESCRIPTOR.file, register=True)
                if self.auto_register
                else tuple(
                    Reference(
                        r.name, r.subject, self.registry.get_latest_version(r.subject).version
                    )
                    for r in self.schema.references
                )
            )
            self.schema = Schema(self.schema.schema_str, "PROTOBUF", refs)
            self._refs_done = True
        return super()._writer(topic)

    def writer_state(self, schema: Schema) -> Any:
        return None

    def reader_state(self, schema_id: int, schema: Schema) -> Any:
        """The message name at each index path of the writer's file, checked lazily."""
        from google.protobuf import descriptor_pb2

        names: dict[tuple[int, ...], str] = {}
        try:
            proto = descriptor_pb2.FileDescriptorProto.FromString(
                base64.b64decode(schema.schema_str, validate=True)
            )
        except Exception:  # noqa: BLE001 - not base64 descriptor bytes
            return names  # a .proto text schema: nothing to check against
        prefix = f"{proto.package}." if proto.package else ""

        def walk(msgs: Any, path: tuple[int, ...], scope: str) -> None:
            for i, m in enumerate(msgs):
                names[path + (i,)] = scope + m.name
                walk(m.nested_type, path + (i,), scope + m.name + ".")

        walk(proto.message_type, (), prefix)
        return names

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        found = self._writers.get(topic)
        head = (found if found is not None else self._writer(topic))[0]
        if not isinstance(obj, self.message_class):
            try:
                from google.protobuf import json_format

                obj = json_format.ParseDict(obj, self.message_class())
            except Exception as exc:
                raise self._bad_value(topic, obj, exc) from exc
        payload: bytes = obj.SerializeToString()
        return head + self._index_bytes + payload

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        schema_id = wire.split(topic, data)
        names = self._readers.get(schema_id)
        if names is None:
            names = self._reader(topic, schema_id)
        try:
            indexes, pos = wire.decode_indexes(data, wire.HEADER_SIZE)
            if names:
                written = names.get(tuple(indexes))
                if written != self.record_name:
                    raise SchemaSerdeError(
                        f"the record holds message {written or indexes} but this serde "
                        f"reads {self.record_name}"
                    )
            return self.message_class.FromString(data[pos:])
        except Exception as exc:
            raise self._bad_payload(topic, schema_id, exc) from exc
