"""Compatibility rules, one behaviour per test, checked through the embedded registry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streamz_kit import SchemaRegistry
from streamz_kit.schemas import IncompatibleSchemaError, Schema
from streamz_kit.schemas.compat import avro, errors


def rec(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}


def f(name: str, kind: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, **extra}


def can_read(reader: Any, writer: Any) -> list[str]:
    return avro.read_errors(avro.parse(json.dumps(reader)), avro.parse(json.dumps(writer)))


def test_added_field_needs_a_default() -> None:
    old = rec(f("a", "string"))
    problems = can_read(rec(f("a", "string"), f("b", "int")), old)
    assert len(problems) == 1 and "READER_FIELD_MISSING_DEFAULT_VALUE" in problems[0]
    assert "'b'" in problems[0]
    assert can_read(rec(f("a", "string"), f("b", "int", default=0)), old) == []


def test_removed_field_is_backward_compatible_but_not_forward() -> None:
    old, new = rec(f("a", "string"), f("b", "int")), rec(f("a", "string"))
    assert can_read(new, old) == []
    assert "'b'" in can_read(old, new)[0]


@pytest.mark.parametrize(
    ("writer", "reader", "ok"),
    [
        ("int", "long", True),
        ("int", "float", True),
        ("int", "double", True),
        ("long", "double", True),
        ("float", "double", True),
        ("string", "bytes", True),
        ("bytes", "string", True),
        ("long", "int", False),
        ("double", "float", False),
        ("string", "int", False),
        ("boolean", "int", False),
    ],
)
def test_type_promotions(writer: str, reader: str, ok: bool) -> None:
    problems = can_read(rec(f("x", reader)), rec(f("x", writer)))
    assert (problems == []) is ok
    if not ok:
        assert "TYPE_MISMATCH" in problems[0]


def test_enum_symbols() -> None:
    def enum(*symbols: str, **extra: Any) -> dict[str, Any]:
        return {"type": "enum", "name": "E", "symbols": list(symbols), **extra}

    assert can_read(enum("A", "B", "C"), enum("A", "B")) == []
    assert "MISSING_ENUM_SYMBOLS" in can_read(enum("A"), enum("A", "B"))[0]
    assert can_read(enum("A", "U", default="U"), enum("A", "B")) == []


def test_unions() -> None:
    assert can_read(["null", "string"], "string") == []
    assert "MISSING_UNION_BRANCH" in can_read(["null", "string"], "int")[0]
    assert can_read(["null", "long"], "int") == []  # promoted into a branch
    assert can_read(["null", "string", "int"], ["null", "string"]) == []
    problems = can_read("string", ["null", "string"])  # the null branch cannot be read
    assert problems and "TYPE_MISMATCH" in problems[0]


def test_nested_records_arrays_maps_and_fixed() -> None:
    inner_old = rec(f("q", "int"), name="Line")
    inner_new = rec(f("q", "int"), f("sku", "string"), name="Line")
    old = rec(f("lines", {"type": "array", "items": inner_old}))
    new = rec(f("lines", {"type": "array", "items": inner_new}))
    problem = can_read(new, old)[0]
    assert "'sku'" in problem and "/fields/0/type/items/fields/1" in problem
    old_map = rec(f("m", {"type": "map", "values": "int"}))
    assert can_read(rec(f("m", {"type": "map", "values": "long"})), old_map) == []
    fixed = {"type": "fixed", "name": "F", "size": 4}
    assert "FIXED_SIZE_MISMATCH" in can_read({**fixed, "size": 8}, fixed)[0]
    assert "NAME_MISMATCH" in can_read(rec(f("a", "int"), name="Other"), rec(f("a", "int")))[0]


def test_recursive_schemas_terminate() -> None:
    node = {
        "type": "record",
        "name": "Node",
        "fields": [
            {"name": "v", "type": "int"},
            {"name": "next", "type": ["null", "Node"], "default": None},
        ],
    }
    assert can_read(node, node) == []


def s(schema: Any) -> Schema:
    return Schema(json.dumps(schema))


def test_levels_and_transitivity() -> None:
    v1 = rec(f("a", "string"))
    v2 = rec(f("a", "string"), f("b", "int", default=0))
    v3 = rec(f("a", "string"), f("b", "int"))  # reads v2, but not v1 (no default for b)
    assert errors("BACKWARD", s(v3), [s(v1), s(v2)]) == []
    assert errors("BACKWARD_TRANSITIVE", s(v3), [s(v1), s(v2)]) != []
    assert errors("FORWARD", s(v1), [s(v2)]) == []  # v2 reads v1 data: b has a default
    assert errors("FULL", s(v2), [s(v1)]) == []
    assert errors("FULL", s(v3), [s(v1)]) != []  # v3 cannot read v1 data (b has no default)
    assert errors("NONE", s({"type": "string"}), [s(v1)]) == []


def test_json_schema_rules() -> None:
    def js(**kw: Any) -> Schema:
        return Schema(json.dumps({"type": "object", **kw}), "JSON")

    props = {"a": {"type": "string"}}
    assert (
        errors(
            "BACKWARD", js(properties={**props, "b": {"type": "integer"}}), [js(properties=props)]
        )
        == []
    )
    problems = errors("BACKWARD", js(properties=props, required=["a"]), [js(properties=props)])
    assert "REQUIRED_PROPERTY_ADDED" in problems[0] and "'a'" in problems[0]
    problems = errors("BACKWARD", js(properties={"a": {"type": "integer"}}), [js(properties=props)])
    assert "TYPE_NARROWED" in problems[0] and "/properties/a" in problems[0]
    widened = js(properties={"n": {"type": "number"}})
    assert errors("BACKWARD", widened, [js(properties={"n": {"type": "integer"}})]) == []


def test_protobuf_rules() -> None:
    from google.protobuf import descriptor_pb2

    from tests.schemas.proto_fixture import Order, _file

    def b64(fd: descriptor_pb2.FileDescriptorProto) -> Schema:
        import base64

        return Schema(base64.b64encode(fd.SerializeToString()).decode(), "PROTOBUF")

    old = _file()
    same = b64(old)
    assert errors("BACKWARD", same, [same]) == []
    changed = _file()
    changed.message_type[1].field[1].type = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    problems = errors("BACKWARD", b64(changed), [same])
    assert "demo.Order.amount" in problems[0] and "FIELD_KIND_CHANGED" in problems[0]
    widened = _file()
    widened.message_type[1].field[1].type = descriptor_pb2.FieldDescriptorProto.TYPE_UINT64
    assert errors("BACKWARD", b64(widened), [same]) == []
    removed = _file()
    del removed.message_type[0]
    assert "MESSAGE_REMOVED" in errors("BACKWARD", b64(removed), [same])[0]
    assert Order.DESCRIPTOR.full_name == "demo.Order"


def test_registry_levels_per_subject_and_global(embedded_url: str) -> None:
    reg = SchemaRegistry(embedded_url)
    v1 = rec(f("a", "string"))
    breaking = rec(f("a", "int"))
    reg.register("x-value", v1)
    reg.register("y-value", v1)
    with pytest.raises(IncompatibleSchemaError, match="TYPE_MISMATCH"):
        reg.register("x-value", breaking)
    reg.set_compatibility("NONE", subject="x-value")
    reg.register("x-value", breaking)
    with pytest.raises(IncompatibleSchemaError):
        reg.register("y-value", breaking)
    reg.set_compatibility("NONE")
    reg.register("y-value", breaking)
    assert reg.get_versions("y-value") == [1, 2]
    with pytest.raises(Exception, match="Invalid compatibility level"):
        reg.set_compatibility("SIDEWAYS")
