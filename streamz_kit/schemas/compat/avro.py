"""Avro schema compatibility: can a reader with schema R read data written with schema W?

The rules are Avro's schema resolution (the spec's "Schema Resolution" section, and the Java
library's `SchemaCompatibility`, which Confluent's registry runs):
- primitives match themselves, and the writer's type may be promoted: int to long, float or
  double; long to float or double; float to double; string to bytes and back;
- records match by unqualified name (or a reader alias); every reader field must exist in the
  writer (by name or alias) with a compatible type, or have a default;
- enums match by name; every writer symbol must be a reader symbol unless the reader has a
  default symbol; fixed types need the same name and size;
- arrays and maps compare their items and values;
- a writer union is readable when every branch is; a reader union reads a writer type when
  some branch does. Logical types are checked by their underlying type, as Java does.
Messages name the field and its path, in the shape of Confluent's verbose answers.
"""

from __future__ import annotations

import json
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}

Node = dict[str, Any]


class AvroSchemaError(ValueError):
    """The text is not an Avro schema we can check."""


def parse(schema: str | dict[str, Any] | list[Any]) -> Node:
    """A normalized graph of the schema: named types resolved to shared nodes."""
    data: Any = schema
    if isinstance(schema, str):
        try:
            data = json.loads(schema)
        except ValueError:
            data = schema.strip()  # a bare primitive name such as `string`
    return _normalize(data, "", {})


def _qualify(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _normalize(schema: Any, ns: str, names: dict[str, Node]) -> Node:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return {"type": schema}
        full = _qualify(schema, ns)
        found = names.get(full) or names.get(schema)
        if found is None:
            raise AvroSchemaError(f"Avro type {schema!r} is not defined before its use")
        return found
    if isinstance(schema, list):
        return {"type": "union", "branches": [_normalize(b, ns, names) for b in schema]}
    if not isinstance(schema, dict) or "type" not in schema:
        raise AvroSchemaError(f"{json.dumps(schema)[:80]} is not an Avro schema")
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        return _normalize(kind, ns, names)
    if kind in PRIMITIVES:
        return {"type": kind}
    if kind in ("record", "error", "enum", "fixed"):
        name = str(schema.get("name", ""))
        if not name:
            raise AvroSchemaError(f"An Avro {kind} needs a name")
        space = str(schema.get("namespace", ns) or "")
        full = _qualify(name, space)
        node: Node = {
            "type": "record" if kind == "error" else kind,
            "name": full.rsplit(".", 1)[-1],
            "fullname": full,
            "aliases": [_qualify(a, space) for a in schema.get("aliases", ())],
        }
        names[full] = node
        inner = full.rsplit(".", 1)[0] if "." in full else ""
        if kind in ("record", "error"):
            node["fields"] = [
                {
                    "name": f["name"],
                    "aliases": list(f.get("aliases", ())),
                    "type": _normalize(f["type"], inner, names),
                    "has_default": "default" in f,
                }
                for f in schema.get("fields", ())
            ]
        elif kind == "enum":
            node["symbols"] = list(schema.get("symbols", ()))
            node["default"] = schema.get("default")
        else:
            node["size"] = int(schema.get("size", 0))
        return node
    if kind == "array":
        return {"type": "array", "items": _normalize(schema["items"], ns, names)}
    if kind == "map":
        return {"type": "map", "values": _normalize(schema["values"], ns, names)}
    return _normalize(kind, ns, names)  # a named type referenced as {"type": "Name"}


def _describe(node: Node) -> str:
    return str(node.get("fullname") or node["type"])


class _Checker:
    def __init__(self, reader_label: str, writer_label: str) -> None:
        self.reader_label = reader_label
        self.writer_label = writer_label
        self.seen: set[tuple[int, int]] = set()

    def errors(self, r: Node, w: Node, path: str) -> list[str]:
        out: list[str] = []
        self.check(r, w, path, out)
        return out

    def _err(self, out: list[str], kind: str, text: str, info: str) -> None:
        out.append(f"{{errorType:'{kind}', description:'{text}', additionalInfo:'{info}'}}")

    def check(self, r: Node, w: Node, path: str, out: list[str]) -> None:
        rt, wt = r["type"], w["type"]
        if wt == "union":
            for i, branch in enumerate(w["branches"]):
                self.check(r, branch, f"{path}/{i}" if rt == "union" else path, out)
            return
        if rt == "union":
            for branch in r["branches"]:
                if branch["type"] == wt or (
                    wt in _PROMOTIONS and branch["type"] in _PROMOTIONS[wt]
                ):
                    trial: list[str] = []
                    self.check(branch, w, path, trial)
                    if not trial:
                        return
            self._err(
                out,
                "MISSING_UNION_BRANCH",
                f"The {self.reader_label} schema at path '{path}' is a union with no branch "
                f"that reads the {self.writer_label} schema's {_describe(w)}",
                f"reader union lacking {_describe(w)}",
            )
            return
        if rt != wt:
            if wt in _PROMOTIONS and rt in _PROMOTIONS[wt]:
                return
            self._err(
                out,
                "TYPE_MISMATCH",
                f"The type (path '{path}') of a field in the {self.reader_label} schema is "
                f"{_describe(r)}, which does not match the {self.writer_label} schema's "
                f"{_describe(w)}",
                f"reader type: {rt} not compatible with writer type: {wt}",
            )
            return
        if rt in ("record", "enum", "fixed") and (
            r["name"] != w["name"] and w["fullname"] not in r["aliases"]
        ):
            self._err(
                out,
                "NAME_MISMATCH",
                f"The name of the schema at path '{path}' changed from {w['fullname']} in "
                f"the {self.writer_label} schema to {r['fullname']} in the "
                f"{self.reader_label} schema",
                f"expected: {w['fullname']}",
            )
            return
        if rt == "record":
            pair = (id(r), id(w))
            if pair in self.seen:
                return
            self.seen.add(pair)
            by_name = {f["name"]: f for f in w["fields"]}
            for i, rf in enumerate(r["fields"]):
                wf = by_name.get(rf["name"]) or next(
                    (by_name[a] for a in rf["aliases"] if a in by_name), None
                )
                if wf is not None:
                    self.check(rf["type"], wf["type"], f"{path}/fields/{i}/type", out)
                elif not rf["has_default"]:
                    self._err(
                        out,
                        "READER_FIELD_MISSING_DEFAULT_VALUE",
                        f"The field '{rf['name']}' at path '{path}/fields/{i}' in the "
                        f"{self.reader_label} schema has no default value and is missing in "
                        f"the {self.writer_label} schema",
                        rf["name"],
                    )
        elif rt == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and r.get("default") is None:
                self._err(
                    out,
                    "MISSING_ENUM_SYMBOLS",
                    f"The {self.reader_label} schema is missing enum symbols "
                    f"'{missing}' at path '{path}/symbols' in the {self.writer_label} schema",
                    str(missing),
                )
        elif rt == "fixed":
            if r["size"] != w["size"]:
                self._err(
                    out,
                    "FIXED_SIZE_MISMATCH",
                    f"The size of FIXED type field at path '{path}/size' in the "
                    f"{self.reader_label} schema ({r['size']}) does not match with the "
                    f"{self.writer_label} schema ({w['size']})",
                    f"expected: {w['size']}, found: {r['size']}",
                )
        elif rt == "array":
            self.check(r["items"], w["items"], f"{path}/items", out)
        elif rt == "map":
            self.check(r["values"], w["values"], f"{path}/values", out)


def read_errors(
    reader: Node, writer: Node, *, reader_label: str = "new", writer_label: str = "old"
) -> list[str]:
    """Why `reader` cannot read data written with `writer` (empty when it can)."""
    return _Checker(reader_label, writer_label).errors(reader, writer, "")
