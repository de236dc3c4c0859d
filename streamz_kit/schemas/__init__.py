"""Schemas the way Kafka shops use them: a registry client, an embedded registry, and the
Confluent wire-format serdes (`serdes.avro`, `serdes.json_schema`, `serdes.protobuf`).
See docs/schemas.md."""

from streamz_kit.schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryError,
    RegistryUnavailableError,
    SchemaNotFoundError,
    SchemaSerdeError,
    SubjectNotFoundError,
    VersionNotFoundError,
)
from streamz_kit.schemas.registry import SchemaRegistry
from streamz_kit.schemas.types import Reference, RegisteredSchema, Schema

__all__ = [
    "IncompatibleSchemaError",
    "InvalidSchemaError",
    "Reference",
    "RegisteredSchema",
    "RegistryError",
    "RegistryUnavailableError",
    "Schema",
    "SchemaNotFoundError",
    "SchemaRegistry",
    "SchemaSerdeError",
    "SubjectNotFoundError",
    "VersionNotFoundError",
]
