"""confluent-kafka's registry client and serializers against `streamz-kit registry`.

confluent-kafka is the independent implementation: its SchemaRegistryClient talks to our
REST server, and records its AvroSerializer, JSONSerializer and ProtobufSerializer write are
read by our serdes, and ours by its deserializers, compared byte for byte.
"""

from __future__ import annotations

import json
import uuid

import pytest

pytest.importorskip("confluent_kafka.schema_registry")

from confluent_kafka.schema_registry import Schema as CSchema
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import (
    JSONDeserializer,
    JSONSerializer,
)
from confluent_kafka.schema_registry.protobuf import (
    ProtobufDeserializer,
    ProtobufSerializer,
)
from confluent_kafka.serialization import MessageField, SerializationContext

from streamz_kit import SchemaRegistry, serdes
from streamz_kit.schemas import IncompatibleSchemaError
from tests.schemas.proto_fixture import Note, Order

USER_V1 = {
    "type": "record",
    "name": "User",
    "namespace": "shop",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "tier", "type": {"type": "enum", "name": "Tier", "symbols": ["FREE", "PRO"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "nick", "type": ["null", "string"], "default": None},
    ],
}
USER_V2 = {
    **USER_V1,
    "fields": USER_V1["fields"]
    + [
        {"name": "email", "type": ["null", "string"], "default": None},
    ],
}
USERS = [
    {"name": "ann", "age": 31, "tier": "PRO", "tags": ["a", "b"], "nick": None},
    {"name": "bo", "age": 0, "tier": "FREE", "tags": [], "nick": "b\u00f6"},
]


def topic() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(registry_url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": registry_url})


@pytest.fixture
def ours(registry_url: str) -> SchemaRegistry:
    return SchemaRegistry(registry_url)


def ctx(t: str, key: bool = False) -> SerializationContext:
    return SerializationContext(t, MessageField.KEY if key else MessageField.VALUE)


def test_avro_both_ways_byte_for_byte(client: SchemaRegistryClient, ours: SchemaRegistry) -> None:
    t = topic()
    theirs = AvroSerializer(client, json.dumps(USER_V1))
    mine = serdes.avro(USER_V1, registry=ours)
    for user in USERS:
        written = theirs(user, ctx(t))
        assert written is not None and written[0] == 0
        assert mine.deserialize(t, written) == user
        assert mine.serialize(t, user) == written
        assert AvroDeserializer(client)(mine.serialize(t, user), ctx(t)) == user
    assert client.get_latest_version(f"{t}-value").schema_id == int.from_bytes(written[1:5], "big")


def test_avro_keys_use_the_key_subject(client: SchemaRegistryClient, ours: SchemaRegistry) -> None:
    t = topic()
    mine = serdes.avro('"string"', registry=ours, key=True)
    data = mine.serialize(t, "user-1")
    assert AvroDeserializer(client)(data, ctx(t, key=True)) == "user-1"
    assert client.get_subjects().count(f"{t}-key") == 1
    assert AvroSerializer(client, '"string"')("user-1", ctx(t, key=True)) == data


def test_reader_with_newer_schema_reads_old_records(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    t = topic()
    old = AvroSerializer(client, json.dumps(USER_V1))(USERS[0], ctx(t))
    reader = serdes.avro(USER_V2, registry=ours)
    assert reader.deserialize(t, old) == {**USERS[0], "email": None}
    new = reader.serialize(t, {**USERS[1], "email": "bo@x"})  # registers v2: compatible
    assert client.get_versions(f"{t}-value") == [1, 2]
    assert AvroDeserializer(client)(new, ctx(t)) == {**USERS[1], "email": "bo@x"}
    # Confluent's deserializer with the v1 reader schema reads v2 records (forward direction).
    v1_reader = AvroDeserializer(client, json.dumps(USER_V1))
    assert v1_reader(new, ctx(t)) == USERS[1]


def test_incompatible_schema_is_refused_for_both_clients(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    t = topic()
    AvroSerializer(client, json.dumps(USER_V1))(USERS[0], ctx(t))
    breaking = {**USER_V1, "fields": USER_V1["fields"] + [{"name": "email", "type": "string"}]}
    with pytest.raises(SchemaRegistryError) as theirs:
        client.register_schema(f"{t}-value", CSchema(json.dumps(breaking), "AVRO"))
    assert theirs.value.http_status_code == 409
    assert "email" in theirs.value.error_message
    serde = serdes.avro(breaking, registry=ours)
    with pytest.raises(IncompatibleSchemaError) as mine:
        serde.serialize(t, {**USERS[0], "email": "x"})
    assert "'email'" in str(mine.value) and "no default value" in str(mine.value)
    assert client.get_versions(f"{t}-value") == [1]


def test_compatibility_config_through_confluent_client(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    t = topic()
    subject = f"{t}-value"
    client.register_schema(subject, CSchema(json.dumps(USER_V1), "AVRO"))
    assert client.get_compatibility() == "BACKWARD"
    client.set_compatibility(subject, "NONE")
    assert ours.get_compatibility(subject) == "NONE"
    breaking = {**USER_V1, "fields": [{"name": "name", "type": "int"}]}
    assert client.test_compatibility(subject, CSchema(json.dumps(breaking), "AVRO"))
    client.set_compatibility(subject, "FORWARD")
    assert not client.test_compatibility(subject, CSchema(json.dumps(breaking), "AVRO"))
    assert client.get_compatibility() == "BACKWARD"  # the global level is untouched


def test_record_name_strategies(client: SchemaRegistryClient, ours: SchemaRegistry) -> None:
    t = topic()
    by_record = serdes.avro(USER_V1, registry=ours, subject_name_strategy="record")
    by_topic_record = serdes.avro(USER_V1, registry=ours, subject_name_strategy="topic_record")
    a = by_record.serialize(t, USERS[0])
    b = by_topic_record.serialize(t, USERS[0])
    subjects = client.get_subjects()
    assert "shop.User" in subjects and f"{t}-shop.User" in subjects
    assert a == b  # one schema, one id, whatever the subject
    from confluent_kafka.schema_registry import record_subject_name_strategy

    theirs = AvroSerializer(
        client, json.dumps(USER_V1), conf={"subject.name.strategy": record_subject_name_strategy}
    )
    assert theirs(USERS[0], ctx(t)) == a


def test_auto_register_off_and_use_latest(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    from streamz_kit.schemas import SubjectNotFoundError

    t = topic()
    with pytest.raises(SubjectNotFoundError):
        serdes.avro(USER_V1, registry=ours, auto_register=False).serialize(t, USERS[0])
    client.register_schema(f"{t}-value", CSchema(json.dumps(USER_V1), "AVRO"))
    client.register_schema(f"{t}-value", CSchema(json.dumps(USER_V2), "AVRO"))
    data = serdes.avro(USER_V1, registry=ours, auto_register=False).serialize(t, USERS[0])
    assert int.from_bytes(data[1:5], "big") == client.get_version(f"{t}-value", 1).schema_id
    latest = serdes.avro(USER_V1, registry=ours, auto_register=False, use_latest_version=True)
    data = latest.serialize(t, {**USERS[0], "email": "a@b"})
    assert int.from_bytes(data[1:5], "big") == client.get_latest_version(f"{t}-value").schema_id
    assert AvroDeserializer(client)(data, ctx(t))["email"] == "a@b"


JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Click",
    "type": "object",
    "properties": {"user": {"type": "string"}, "n": {"type": "integer", "minimum": 0}},
    "required": ["user", "n"],
}


def test_json_schema_both_ways_byte_for_byte(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    from streamz_kit.errors import SerializationError

    t = topic()
    theirs = JSONSerializer(json.dumps(JSON_SCHEMA), client)
    mine = serdes.json_schema(JSON_SCHEMA, registry=ours)
    doc = {"user": "ann", "n": 3}
    written = theirs(doc, ctx(t))
    assert mine.deserialize(t, written) == doc
    assert mine.serialize(t, doc) == written
    assert JSONDeserializer(None, schema_registry_client=client)(written, ctx(t)) == doc
    with pytest.raises(SerializationError, match=r"data.n must be bigger than or equal to 0"):
        mine.serialize(t, {"user": "ann", "n": -1})


def test_protobuf_both_ways_byte_for_byte(
    client: SchemaRegistryClient, ours: SchemaRegistry
) -> None:
    t = topic()
    order = Order(id="o-1", amount=1250)
    order.lines.add(sku="sku-9", qty=3)
    order.placed.seconds = 1_700_000_000
    theirs = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    mine = serdes.protobuf(Order, registry=ours)
    written = theirs(order, ctx(t))
    assert written[5:7] == b"\x02\x02"  # message indexes [1]: Order is the file's 2nd message
    assert mine.deserialize(t, written) == order
    assert mine.serialize(t, order) == written
    back = ProtobufDeserializer(Order, {"use.deprecated.format": False}, client)
    assert back(mine.serialize(t, order), ctx(t)) == order
    # The first message of the file is written with the short index form, byte 0.
    note = serdes.protobuf(Note, registry=ours, subject_name_strategy="topic_record")
    assert note.serialize(t, Note(text="hi"))[5:6] == b"\x00"


def test_protobuf_reader_refuses_another_message_type(ours: SchemaRegistry) -> None:
    from streamz_kit.errors import SerializationError

    t = topic()
    data = serdes.protobuf(Note, registry=ours).serialize(t, Note(text="x"))
    with pytest.raises(SerializationError, match=r"demo.Note"):
        serdes.protobuf(Order, registry=ours).deserialize(t, data)
