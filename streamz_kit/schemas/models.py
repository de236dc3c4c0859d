"""Model classes (dataclasses or pydantic models) standing in for schemas.

A model gives an Avro record schema or a JSON Schema (derived once from its type hints) and
the two converters the serdes need: instance to plain dict, and dict back to an instance.
Type mapping: str -> string, int -> long, float -> double, bool -> boolean, bytes -> bytes,
`X | None` -> a union with null (default null), list[X] -> array, dict[str, X] -> map,
Enum -> enum, a nested model -> a nested record. Field defaults become schema defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any

from streamz_kit.errors import ConfigError

_AVRO_PRIMS: dict[Any, str] = {
    str: "string",
    int: "long",
    float: "double",
    bool: "boolean",
    bytes: "bytes",
}
_JSON_PRIMS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def is_pydantic(cls: Any) -> bool:
    return isinstance(cls, type) and hasattr(cls, "model_fields") and hasattr(cls, "model_validate")


def is_model(obj: Any) -> bool:
    return isinstance(obj, type) and (dataclasses.is_dataclass(obj) or is_pydantic(obj))


def _optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _fields(model: type) -> list[tuple[str, Any, bool, Any]]:
    """(name, type, has_default, default) per field, in declaration order."""
    hints = typing.get_type_hints(model)
    out = []
    if dataclasses.is_dataclass(model):
        for f in dataclasses.fields(model):
            if f.default is not dataclasses.MISSING:
                out.append((f.name, hints[f.name], True, f.default))
            elif f.default_factory is not dataclasses.MISSING:
                out.append((f.name, hints[f.name], True, f.default_factory()))
            else:
                out.append((f.name, hints[f.name], False, None))
        return out
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        out.append((name, hints.get(name, info.annotation), not required, default))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if is_model(type(value)):
        return to_dict(value)
    return value


def avro_schema(model: type, namespace: str | None = None) -> dict[str, Any]:
    """An Avro record schema for `model`."""
    seen: set[str] = set()

    def avro_type(tp: Any) -> Any:
        inner, optional = _optional(tp)
        if optional:
            return ["null", avro_type(inner)]
        if tp in _AVRO_PRIMS:
            return _AVRO_PRIMS[tp]
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (list, tuple, set, frozenset) or tp in (list,):
            return {"type": "array", "items": avro_type(args[0] if args else str)}
        if origin is dict:
            return {"type": "map", "values": avro_type(args[1] if args else str)}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            if tp.__name__ in seen:
                return tp.__name__
            seen.add(tp.__name__)
            return {"type": "enum", "name": tp.__name__, "symbols": [m.name for m in tp]}
        if is_model(tp):
            return record(tp)
        raise ConfigError(
            f"Cannot map the type {tp!r} of model {model.__name__} to Avro; use str, int, "
            "float, bool, bytes, Optional, list, dict, Enum or another model, or pass the "
            "Avro schema itself."
        )

    def record(cls: type) -> Any:
        if cls.__name__ in seen:
            return cls.__name__
        seen.add(cls.__name__)
        fields = []
        for name, tp, has_default, default in _fields(cls):
            field: dict[str, Any] = {"name": name, "type": avro_type(tp)}
            if has_default:
                field["default"] = _plain(default)
                if isinstance(field["type"], list) and default is not None:
                    field["type"] = [field["type"][1], "null"]  # default's branch goes first
            fields.append(field)
        out: dict[str, Any] = {"type": "record", "name": cls.__name__, "fields": fields}
        return out

    schema = record(model)
    if namespace:
        schema["namespace"] = namespace
    assert isinstance(schema, dict)
    return schema


def json_schema(model: type) -> dict[str, Any]:
    """A JSON Schema (draft-07) for `model`; pydantic models give their own."""
    if is_pydantic(model):
        schema = dict(model.model_json_schema())  # type: ignore[attr-defined]
        schema.setdefault("$schema", "http://json-schema.org/draft-07/schema#")
        return schema

    def js(tp: Any) -> dict[str, Any]:
        inner, optional = _optional(tp)
        if optional:
            sub = js(inner)
            return {"oneOf": [{"type": "null"}, sub]}
        if tp in _JSON_PRIMS:
            return {"type": _JSON_PRIMS[tp]}
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (list, tuple, set, frozenset):
            return {"type": "array", "items": js(args[0]) if args else {}}
        if origin is dict:
            return {"type": "object", "additionalProperties": js(args[1]) if args else {}}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [m.name for m in tp]}
        if is_model(tp):
            return obj(tp)
        return {}

    def obj(cls: type) -> dict[str, Any]:
        props, required = {}, []
        for name, tp, has_default, _default in _fields(cls):
            props[name] = js(tp)
            if not has_default:
                required.append(name)
        return {"title": cls.__name__, "type": "object", "properties": props, "required": required}

    return {"$schema": "http://json-schema.org/draft-07/schema#", **obj(model)}


def to_dict(obj: Any) -> Any:
    """A model instance as plain data (dicts pass through)."""
    if is_pydantic(type(obj)):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _deep_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return obj


def _deep_plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if is_model(type(value)):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_deep_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _deep_plain(v) for k, v in value.items()}
    return value


def from_dict(model: type) -> Callable[[Any], Any]:
    """A function turning a decoded dict into an instance of `model` (built once)."""
    if is_pydantic(model):
        return model.model_validate  # type: ignore[attr-defined, no-any-return]

    def converter(tp: Any) -> Callable[[Any], Any] | None:
        inner, optional = _optional(tp)
        if optional:
            sub = converter(inner)
            if sub is None:
                return None
            return lambda v: None if v is None else sub(v)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (list, tuple, set, frozenset) and args:
            conv = converter(args[0])
            make = origin
            return (
                None
                if conv is None and make is list
                else (lambda v: make(conv(x) for x in v) if conv else make(v))
            )
        if origin is dict and len(args) == 2:
            conv = converter(args[1])
            return None if conv is None else (lambda v: {k: conv(x) for k, x in v.items()})
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return lambda v: tp[v] if isinstance(v, str) else tp(v)
        if is_model(tp):
            return from_dict(tp)
        return None

    plan = [(name, converter(tp)) for name, tp, _d, _v in _fields(model)]
    names = {name for name, _ in plan}
    convs = [(name, conv) for name, conv in plan if conv is not None]

    def build(data: Any) -> Any:
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {model.__name__}, got {type(data).__name__}")
        kwargs = {k: v for k, v in data.items() if k in names}
        for name, conv in convs:
            if name in kwargs:
                kwargs[name] = conv(kwargs[name])
        return model(**kwargs)

    return build
