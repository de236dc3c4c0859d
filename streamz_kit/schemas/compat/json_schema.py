"""JSON Schema compatibility, the checks that catch real breakage (a subset of Confluent's).

"Reader R reads writer W" means every document valid under W is valid under R. Checked,
recursively through `properties` and `items`:
- the set of `type`s may not shrink (integer widening to number is allowed);
- a property required by R must be required by W (else old documents may lack it);
- a property W allows may not be dropped while R forbids extra properties
  (`additionalProperties: false`);
- `enum` values may not be removed;
- bounds may not tighten (`minimum`, `maximum`, `minLength`, `maxLength`, `minItems`,
  `maxItems`, exclusive variants);
- `additionalProperties` may not go from allowed to forbidden.
Not checked: `$ref` targets, `oneOf`/`anyOf`/`allOf` combinations, `pattern` changes, and
Confluent's open-content-model rule (adding a property to a schema that allows any extra
property), which flags the common "add an optional field" step as incompatible.
"""

from __future__ import annotations

import json
from typing import Any

_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def parse(text: str) -> Any:
    return json.loads(text)


def _types(schema: Any) -> set[str] | None:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind is None:
        return None
    return {kind} if isinstance(kind, str) else set(kind)


def read_errors(
    reader: Any, writer: Any, *, reader_label: str = "new", writer_label: str = "old"
) -> list[str]:
    out: list[str] = []
    _check(reader, writer, "#", out, reader_label, writer_label)
    return out


def _check(r: Any, w: Any, path: str, out: list[str], rl: str, wl: str) -> None:
    if not isinstance(r, dict) or not isinstance(w, dict):
        if r is False and w is not False:
            out.append(f"{path}: the {rl} schema accepts nothing where the {wl} schema did")
        return
    rt, wt = _types(r), _types(w)
    if rt is not None:
        widened = set(rt) | ({"integer"} if "number" in rt else set())
        lost = (wt or {"any"}) - widened
        if lost:
            out.append(
                f"{path}: type changed from {sorted(wt or ['any'])} in the {wl} schema to "
                f"{sorted(rt)} in the {rl} schema (TYPE_NARROWED)"
            )
            return
    if "enum" in r:
        missing = [v for v in w.get("enum", []) if v not in r["enum"]]
        if "enum" not in w or missing:
            out.append(
                f"{path}: enum values {missing or 'of any value'} of the {wl} schema are not "
                f"accepted by the {rl} schema (ENUM_ARRAY_NARROWED)"
            )
    for key in _LOWER:
        if key in r and (key not in w or r[key] > w[key]):
            out.append(
                f"{path}: {key} raised to {r[key]} in the {rl} schema ({key.upper()}_INCREASED)"
            )
    for key in _UPPER:
        if key in r and (key not in w or r[key] < w[key]):
            out.append(
                f"{path}: {key} lowered to {r[key]} in the {rl} schema ({key.upper()}_DECREASED)"
            )
    r_props, w_props = r.get("properties", {}), w.get("properties", {})
    r_closed = r.get("additionalProperties") is False
    if r_closed and w.get("additionalProperties") is not False:
        out.append(
            f"{path}: the {rl} schema forbids additional properties that the {wl} "
            "schema allowed (ADDITIONAL_PROPERTIES_REMOVED)"
        )
    required_before = set(w.get("required", ()))
    for name in r.get("required", ()):
        if name not in required_before:
            out.append(
                f"{path}/properties/{name}: property '{name}' is required by the {rl} schema but "
                f"optional or absent in the {wl} schema (REQUIRED_PROPERTY_ADDED)"
            )
    for name, w_sub in w_props.items():
        if name in r_props:
            _check(r_props[name], w_sub, f"{path}/properties/{name}", out, rl, wl)
        elif r_closed:
            out.append(
                f"{path}/properties/{name}: property '{name}' of the {wl} schema is not "
                f"allowed by the {rl} schema (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL)"
            )
    if isinstance(r.get("items"), dict) and isinstance(w.get("items"), dict):
        _check(r["items"], w["items"], f"{path}/items", out, rl, wl)
