"""Turning CLI text lines into records and records into lines (`key<TAB>value`)."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from streamz_kit.errors import SerializationError

SERDE_NAMES = ("string", "json", "long", "int", "float", "bytes")


def parse_text(text: str, serde_name: str, what: str) -> Any:
    """The object a line's key or value text stands for under the named serde."""
    if serde_name == "string":
        return text
    if serde_name == "json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise SerializationError(f"the {what} is not valid JSON ({exc})") from None
    if serde_name in ("long", "int"):
        try:
            return int(text)
        except ValueError:
            raise SerializationError(f"the {what} {text!r:.40} is not a whole number") from None
    if serde_name == "float":
        try:
            return float(text)
        except ValueError:
            raise SerializationError(f"the {what} {text!r:.40} is not a number") from None
    if serde_name == "bytes":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise SerializationError(f"the {what} is not valid base64") from None
    raise SerializationError(f"unknown serde {serde_name!r}")


def render_text(obj: Any, serde_name: str) -> str:
    """The text `parse_text` reads back as `obj` (so `consume | produce` round-trips)."""
    if obj is None:
        return ""
    if serde_name == "string":
        return str(obj)
    if serde_name == "json":
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS).decode()
    if serde_name == "bytes":
        return base64.b64encode(obj).decode()
    return str(obj)


def json_safe(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    return obj
