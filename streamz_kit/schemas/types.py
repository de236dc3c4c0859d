"""The registry's records: a schema (text, type, references) and where it is registered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

SCHEMA_TYPES = ("AVRO", "JSON", "PROTOBUF")


@dataclass(frozen=True)
class Reference:
    """A schema this one imports: Protobuf imports, JSON `$ref`s, Avro named types."""

    name: str
    subject: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


@dataclass(frozen=True)
class Schema:
    """Schema text as registered; `schema_type` is AVRO (the registry's default), JSON or
    PROTOBUF."""

    schema_str: str
    schema_type: str = "AVRO"
    references: tuple[Reference, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The request body Confluent's API takes (schemaType omitted for Avro, as it does)."""
        body: dict[str, Any] = {"schema": self.schema_str}
        if self.schema_type != "AVRO":
            body["schemaType"] = self.schema_type
        if self.references:
            body["references"] = [r.to_dict() for r in self.references]
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Schema:
        refs = tuple(
            Reference(str(r["name"]), str(r["subject"]), int(r["version"]))
            for r in body.get("references") or ()
        )
        return cls(str(body["schema"]), str(body.get("schemaType") or "AVRO").upper(), refs)

    def identity(self) -> tuple[str, str, tuple[Reference, ...]]:
        """What makes two registrations the same schema (and so the same id): the type, the
        text with JSON whitespace and key order normalized, and the references."""
        text = self.schema_str
        if self.schema_type in ("AVRO", "JSON"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text.strip()
            if self.schema_type == "AVRO":
                parsed = _avro_short(parsed)
            text = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
        return (self.schema_type, text, self.references)


def _avro_short(node: Any) -> Any:
    """`{"type": "string"}` and `"string"` are one Avro schema (Confluent registers the first
    for the second); write every bare primitive the short way."""
    if isinstance(node, dict):
        if set(node) == {"type"} and isinstance(node["type"], str):
            return node["type"]
        return {
            k: _avro_short(v) if k in ("type", "items", "values", "fields") else v
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_avro_short(v) for v in node]
    return node


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema with its global id and its place in one subject's history."""

    schema_id: int
    subject: str
    version: int
    schema: Schema

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> RegisteredSchema:
        return cls(
            int(body["id"]),
            str(body.get("subject", "")),
            int(body.get("version", 0)),
            Schema.from_dict(body),
        )
