"""Serde throughput: encode and decode records/s for JSON, Avro, Protobuf and JSON Schema.

Run: .venv/bin/python bench/serde_throughput.py [--n 100000]
One "user action" record (6 fields: strings, a long, a nullable double, a string array),
serialized and deserialized one record at a time as sources and sinks do. Registry serdes use
the embedded registry (schema fetched once per id, then cached). For reference the same
records go through confluent-kafka's own serializers (the same wire bytes) where installed.
Each figure is records per CPU-second of this process (time.process_time), best of 3 runs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from typing import Any

from streamz_kit import SchemaRegistry, serdes

AVRO = {
    "type": "record",
    "name": "UserAction",
    "namespace": "bench",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "item_id", "type": "string"},
        {"name": "action", "type": "string"},
        {"name": "ts", "type": "long"},
        {"name": "price", "type": ["null", "double"], "default": None},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}
JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "UserAction",
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "item_id": {"type": "string"},
        "action": {"type": "string"},
        "ts": {"type": "integer"},
        "price": {"type": ["number", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["user_id", "item_id", "action", "ts", "tags"],
}


def record(i: int) -> dict[str, Any]:
    return {
        "user_id": f"user-{i % 1000}",
        "item_id": f"item-{i % 5000}",
        "action": "click",
        "ts": 1_700_000_000_000 + i,
        "price": 9.99 if i % 3 else None,
        "tags": ["home", "mobile"],
    }


def proto_class() -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    f = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(
        name="bench/action.proto", package="bench", syntax="proto3"
    )
    m = fd.message_type.add(name="UserAction")
    for n, (name, kind) in enumerate(
        [
            ("user_id", f.TYPE_STRING),
            ("item_id", f.TYPE_STRING),
            ("action", f.TYPE_STRING),
            ("ts", f.TYPE_INT64),
            ("price", f.TYPE_DOUBLE),
        ],
        1,
    ):
        m.field.add(name=name, number=n, type=kind, label=f.LABEL_OPTIONAL)
    m.field.add(name="tags", number=6, type=f.TYPE_STRING, label=f.LABEL_REPEATED)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("bench.UserAction"))


def best(n: int, fn: Callable[[], object]) -> float:
    """Records per CPU-second of this process (time.process_time), best of 3: on a shared
    machine wall time measures the neighbours as much as the serde."""
    rates = []
    for _ in range(3):
        start = time.process_time()
        fn()
        rates.append(n / max(time.process_time() - start, 1e-9))
    return max(rates)


def measure(name: str, serde: Any, values: list[Any], rows: list[tuple[str, float, float]]) -> None:
    ser, de = serde.serialize, serde.deserialize
    topic = f"actions-{len(rows)}"  # one subject per serde
    encoded = [ser(topic, v) for v in values]
    assert de(topic, encoded[0]) is not None
    enc = best(len(values), lambda: [ser(topic, v) for v in values])
    dec = best(len(values), lambda: [de(topic, b) for b in encoded])
    rows.append((name, enc, dec))
    print(
        f"{name:<38} encode {enc:>11,.0f}/s   decode {dec:>11,.0f}/s   {len(encoded[0])} bytes",
        flush=True,
    )


class _Confluent:
    """confluent-kafka's serializer/deserializer pair behind our serde interface."""

    def __init__(self, ser: Any, de: Any) -> None:
        from confluent_kafka.serialization import MessageField, SerializationContext

        self._ctx = SerializationContext
        self._field = MessageField.VALUE
        self._ser, self._de = ser, de

    def serialize(self, topic: str, obj: Any) -> bytes:
        return self._ser(obj, self._ctx(topic, self._field))  # type: ignore[no-any-return]

    def deserialize(self, topic: str, data: bytes) -> Any:
        return self._de(data, self._ctx(topic, self._field))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    values = [record(i) for i in range(args.n)]
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        reg = SchemaRegistry(f"embedded://{tmp}")
        measure("serdes.JSON (orjson, no schema)", serdes.JSON, values, rows)
        measure("serdes.avro", serdes.avro(AVRO, registry=reg), values, rows)
        Action = proto_class()
        messages = [Action(**{k: v for k, v in r.items() if v is not None}) for r in values]
        measure("serdes.protobuf", serdes.protobuf(Action, registry=reg), messages, rows)
        measure(
            "serdes.json_schema (validating)",
            serdes.json_schema(JSON_SCHEMA, registry=reg),
            values,
            rows,
        )
        try:
            from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
            from confluent_kafka.schema_registry.protobuf import (
                ProtobufDeserializer,
                ProtobufSerializer,
            )

            from streamz_kit.schemas.registry import embedded_registry
            from streamz_kit.schemas.server import RegistryServer
        except ImportError:
            return
        from confluent_kafka.schema_registry import SchemaRegistryClient

        with RegistryServer(embedded_registry(tmp), port=0) as server:
            client = SchemaRegistryClient({"url": server.url})
            measure(
                "confluent-kafka AvroSerializer",
                _Confluent(AvroSerializer(client, json.dumps(AVRO)), AvroDeserializer(client)),
                values,
                rows,
            )
            measure(
                "confluent-kafka ProtobufSerializer",
                _Confluent(
                    ProtobufSerializer(Action, client, {"use.deprecated.format": False}),
                    ProtobufDeserializer(Action, {"use.deprecated.format": False}, client),
                ),
                messages,
                rows,
            )


if __name__ == "__main__":
    main()
