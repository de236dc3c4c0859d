"""Compatibility levels and the per-type checks behind them.

BACKWARD: the new schema reads data written with the old one (consumers upgrade first).
FORWARD: the old schema reads data written with the new one (producers upgrade first).
FULL: both. The `_TRANSITIVE` variants check every earlier version, the others only the
latest. NONE checks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.schemas.compat import avro, json_schema, protobuf
from streamz_kit.schemas.types import Schema

LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

_PARSERS: dict[str, Callable[[str], Any]] = {
    "AVRO": avro.parse,
    "JSON": json_schema.parse,
    "PROTOBUF": protobuf.parse,
}
_CHECKS: dict[str, Callable[..., list[str]]] = {
    "AVRO": avro.read_errors,
    "JSON": json_schema.read_errors,
    "PROTOBUF": protobuf.read_errors,
}


def parse(schema: Schema) -> Any:
    """The checker's form of a schema; ValueError when the text does not parse."""
    try:
        return _PARSERS[schema.schema_type](schema.schema_str)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"Invalid {schema.schema_type} schema: {exc}") from exc


def errors(level: str, new: Schema, earlier: list[Schema]) -> list[str]:
    """Why `new` breaks `level` against `earlier` (oldest first); empty when compatible."""
    level = level.upper()
    if level == "NONE" or not earlier:
        return []
    against = earlier if level.endswith("_TRANSITIVE") else earlier[-1:]
    base = level.removesuffix("_TRANSITIVE")
    out: list[str] = []
    new_parsed = parse(new)
    for old in reversed(against):
        if old.schema_type != new.schema_type:
            out.append(f"the schema type changed from {old.schema_type} to {new.schema_type}")
            continue
        old_parsed = parse(old)
        check = _CHECKS[new.schema_type]
        if base in ("BACKWARD", "FULL"):
            out += check(new_parsed, old_parsed, reader_label="new", writer_label="old")
        if base in ("FORWARD", "FULL"):
            out += check(old_parsed, new_parsed, reader_label="old", writer_label="new")
        if out:
            break
    return out
