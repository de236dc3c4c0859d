"""Serdes turn keys and values into bytes and back.

A serde is any object with `serialize(topic, obj) -> bytes` and
`deserialize(topic, data) -> obj`. `None` maps to `None` in both directions for every serde
here: null keys and values are the framework's business (tombstones, dropped keys), not the
serde's.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson

from streamz_kit.errors import SerializationError

__all__ = [
    "BYTES",
    "FLOAT",
    "INT",
    "JSON",
    "LONG",
    "STRING",
    "BytesSerde",
    "FloatSerde",
    "IntSerde",
    "JsonSerde",
    "LongSerde",
    "Serde",
    "StringSerde",
    "avro",
    "by_name",
    "describe_bytes",
    "json_schema",
    "protobuf",
    "typed",
]


@runtime_checkable
class Serde(Protocol):
    def serialize(self, topic: str, obj: Any) -> bytes | None: ...

    def deserialize(self, topic: str, data: bytes | None) -> Any: ...


def describe_bytes(data: bytes | None, limit: int = 64) -> str:
    """Show offending bytes in an error message, truncated so a huge record stays readable."""
    if data is None:
        return "None"
    shown = data[:limit]
    suffix = f"... ({len(data)} bytes)" if len(data) > limit else ""
    return f"{shown!r}{suffix}"


class JsonSerde:
    """JSON through orjson: the default value serde."""

    name = "json"

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        try:
            return b"%b" % orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise SerializationError(
                f"Cannot serialize {type(obj).__name__} {obj!r:.80} as JSON for topic "
                f"{topic!r}: {exc}. Convert it to dicts, lists, strings and numbers first, "
                "or pass a serde that handles this type."
            ) from exc

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SerializationError(
                f"Bytes on topic {topic!r} are not valid JSON ({exc}): {describe_bytes(data)}. "
                "Check the producer, or read the topic with another value serde."
            ) from exc

    def __repr__(self) -> str:
        return "serdes.JSON"


class StringSerde:
    """UTF-8 text: the default key serde."""

    name = "string"

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if type(obj) is str:
            return obj.encode()
        if isinstance(obj, str):
            return str(obj).encode()
        raise SerializationError(
            f"serdes.STRING cannot serialize {type(obj).__name__} {obj!r:.80} for topic "
            f"{topic!r}; it takes str only. Convert the key or value to str, or pass another "
            "serde (for instance key_serde=serdes.JSON or serdes.LONG) to the operation."
        )

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise SerializationError(
                f"Bytes on topic {topic!r} are not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start}): {describe_bytes(data)}. Read the topic with serdes.BYTES."
            ) from exc

    def __repr__(self) -> str:
        return "serdes.STRING"


class BytesSerde:
    name = "bytes"

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise SerializationError(
            f"serdes.BYTES cannot serialize {type(obj).__name__} for topic {topic!r}; it "
            "takes bytes only. Encode the object first or pass another serde."
        )

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        return None if data is None else bytes(data)

    def __repr__(self) -> str:
        return "serdes.BYTES"


class _StructSerde:
    """Fixed-width big-endian numbers, byte-compatible with Kafka's Integer/Long/Double serdes."""

    name = ""
    _fmt = ""
    _kinds: tuple[type, ...] = (int,)

    def __init__(self) -> None:
        self._struct = struct.Struct(self._fmt)
        self._size = self._struct.size

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if isinstance(obj, bool) or not isinstance(obj, self._kinds):
            raise SerializationError(
                f"serdes.{self.name.upper()} cannot serialize {type(obj).__name__} "
                f"{obj!r:.80} for topic {topic!r}; pass a number or another serde."
            )
        try:
            return self._struct.pack(obj)
        except struct.error as exc:
            raise SerializationError(
                f"serdes.{self.name.upper()} cannot serialize {obj!r} for topic {topic!r}: "
                f"{exc}. Use serdes.LONG or serdes.JSON for larger numbers."
            ) from exc

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) != self._size:
            raise SerializationError(
                f"serdes.{self.name.upper()} expects {self._size} bytes on topic {topic!r} "
                f"but got {len(data)}: {describe_bytes(data)}. Read the topic with the serde "
                "its producer used."
            )
        return self._struct.unpack(data)[0]

    def __repr__(self) -> str:
        return f"serdes.{self.name.upper()}"


class IntSerde(_StructSerde):
    name = "int"
    _fmt = ">i"


class LongSerde(_StructSerde):
    name = "long"
    _fmt = ">q"


class FloatSerde(_StructSerde):
    """IEEE double, as Kafka's DoubleSerde writes it."""

    name = "float"
    _fmt = ">d"
    _kinds = (int, float)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        return super().deserialize(topic, data)


JSON = JsonSerde()
STRING = StringSerde()
BYTES = BytesSerde()
INT = IntSerde()
LONG = LongSerde()
FLOAT = FloatSerde()

# -- the hot path's shortcuts ---------------------------------------------------------------
# Sources and sinks call these C functions directly for the built-in serdes, skipping a
# Python method call, a None check and a try block per record. They handle non-None input
# only and may raise anything on bad input: the caller then goes through the serde's own
# method, which raises the error with the sentence that names the record.
_ORJSON_DUMPS = functools.partial(orjson.dumps, option=orjson.OPT_NON_STR_KEYS)


def _JSON_DUMPS(obj: Any) -> bytes:  # noqa: N802 -- the name the hot path has always used
    """orjson's bytes, copied to their exact size.

    orjson (since 3.12) returns bytes objects whose allocation is rounded up to at least
    4 KiB and never shrunk: a 2-byte count holds 4 KiB until it is freed. Records and store
    values wait in memory until the next commit (100,000 of them after a 30 s interval of
    windowed counts: 400 MB), so every JSON serialization is trimmed; `b"%b" % data` is the
    cheapest exact copy (~0.05 us)."""
    return b"%b" % _ORJSON_DUMPS(obj)


def fast_loader(serde: Any) -> Callable[[bytes], Any] | None:
    """A C callable equivalent to `serde.deserialize` for non-None bytes, or None."""
    kind = type(serde)
    if kind is JsonSerde:
        return orjson.loads
    if kind is StringSerde:
        return bytes.decode
    return None


def fast_dumper(serde: Any) -> Callable[[Any], bytes] | None:
    """A C callable equivalent to `serde.serialize` for non-None objects, or None.

    `str.encode` refuses a non-str, so a wrong type falls back to the serde's message."""
    kind = type(serde)
    if kind is JsonSerde:
        return _JSON_DUMPS
    if kind is StringSerde:
        return str.encode
    return None


_BY_NAME: dict[str, Serde] = {
    "json": JSON,
    "string": STRING,
    "str": STRING,
    "bytes": BYTES,
    "int": INT,
    "long": LONG,
    "float": FLOAT,
    "double": FLOAT,
}


def by_name(name: str) -> Serde:
    """Look a serde up by the name the CLI uses (`string`, `json`, `long`, ...)."""
    try:
        return _BY_NAME[name.lower()]
    except KeyError:
        raise SerializationError(
            f"Unknown serde {name!r}; choose one of: string, json, long, int, float, bytes."
        ) from None


# -- schema registry serdes (streamz_kit.schemas; fastavro, protobuf and fastjsonschema are
# imported only when one of these is built: `pip install streamz_kit[schemas]`) -------------


def avro(
    schema: Any, *, registry: Any, key: bool = False, auto_register: bool = True, **options: Any
) -> Any:
    """Avro in Confluent's wire format; `schema` is Avro JSON text, a dict, or a dataclass /
    pydantic model class (values then come back as instances). Options:
    `use_latest_version`, `subject_name_strategy` ('topic', 'record', 'topic_record')."""
    from streamz_kit.schemas.serde_avro import AvroSerde

    return AvroSerde(schema, registry=registry, key=key, auto_register=auto_register, **options)


def json_schema(
    schema: Any, *, registry: Any, key: bool = False, auto_register: bool = True, **options: Any
) -> Any:
    """JSON validated by a JSON Schema (text, dict or model class), in Confluent's wire format."""
    from streamz_kit.schemas.serde_json import JsonSchemaSerde

    return JsonSchemaSerde(
        schema, registry=registry, key=key, auto_register=auto_register, **options
    )


def protobuf(
    message_class: Any,
    *,
    registry: Any,
    key: bool = False,
    auto_register: bool = True,
    **options: Any,
) -> Any:
    """Protobuf messages of `message_class` in Confluent's wire format (with message indexes)."""
    from streamz_kit.schemas.serde_protobuf import ProtobufSerde

    return ProtobufSerde(
        message_class, registry=registry, key=key, auto_register=auto_register, **options
    )


def typed(model: type) -> Any:
    """Plain JSON into and out of a dataclass or pydantic model (no registry)."""
    from streamz_kit.schemas.serde_typed import TypedSerde

    return TypedSerde(model)
