"""Model classes standing in for schemas, and `serdes.typed`."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from pathlib import Path

import pydantic
import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer

from streamz_kit import SchemaRegistry, serdes
from streamz_kit.errors import SerializationError


class Kind(enum.Enum):
    VIEW = 1
    BUY = 2


@dataclasses.dataclass
class Item:
    sku: str
    qty: int = 1


@dataclasses.dataclass
class Action:
    user: str
    kind: Kind
    items: list[Item]
    price: float | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


class Profile(pydantic.BaseModel):
    user: str
    score: float = 0.0
    email: str | None = None


ACTION = Action("ann", Kind.BUY, [Item("a", 2), Item("b")], 9.5, {"src": "web"})


def test_avro_dataclass_round_trip_and_schema(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    serde = serdes.avro(Action, registry=reg)
    data = serde.serialize("actions", ACTION)
    assert serde.deserialize("actions", data) == ACTION
    schema = json.loads(reg.get_latest_version("actions-value").schema.schema_str)
    assert [f["name"] for f in schema["fields"]] == ["user", "kind", "items", "price", "tags"]
    assert schema["fields"][3] == {"name": "price", "type": ["null", "double"], "default": None}
    # The generic reader (dicts) sees the enum as its symbol and nested records as dicts.
    plain = serdes.avro(schema, registry=reg).deserialize("actions", data)
    assert plain["kind"] == "BUY" and plain["items"][1] == {"sku": "b", "qty": 1}


def test_avro_pydantic_model_read_by_confluent(registry_url: str) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = f"profiles-{uuid.uuid4().hex[:6]}"
    serde = serdes.avro(Profile, registry=SchemaRegistry(registry_url))
    data = serde.serialize(topic, Profile(user="bo", score=2.5))
    assert serde.deserialize(topic, data) == Profile(user="bo", score=2.5)
    theirs = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    assert theirs(data, ctx) == {"user": "bo", "score": 2.5, "email": None}


def test_json_schema_with_models(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    serde = serdes.json_schema(Profile, registry=reg)
    assert serde.deserialize("p", serde.serialize("p", Profile(user="x"))) == Profile(user="x")
    with pytest.raises(SerializationError):
        serde.serialize("p", {"user": 5})
    ds = serdes.json_schema(Item, registry=reg)
    assert ds.deserialize("i", ds.serialize("i", Item("s", 3))) == Item("s", 3)
    with pytest.raises(SerializationError, match="must contain"):
        ds.serialize("i", {"qty": 3})


@pytest.mark.parametrize("model,value", [(Action, ACTION), (Profile, Profile(user="u", score=1))])
def test_typed_json(model: type, value: object) -> None:
    serde = serdes.typed(model)
    data = serde.serialize("t", value)
    assert data is not None and data.startswith(b"{")
    assert serde.deserialize("t", data) == value
    assert serde.deserialize("t", None) is None
    with pytest.raises(SerializationError, match=model.__name__):
        serde.deserialize("t", b'{"nope": 1}')
