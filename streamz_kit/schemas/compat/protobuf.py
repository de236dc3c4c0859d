"""Protobuf compatibility over registered FileDescriptorProtos (base64, as Confluent's and our
serializers register them). Text `.proto` schemas are stored but not checked: parsing the
language needs protoc.

Checked for every message the reader and writer share (by full name), per field number:
- the field kind may change only within a wire-compatible group (int32/uint32/int64/uint64/
  bool; sint32/sint64; fixed32/sfixed32; fixed64/sfixed64; string/bytes; the same message or
  enum type);
- a singular field may not become repeated or back, except for packable scalars;
- a proto2 `required` field may not be added;
- a message of the writer's file may not be removed from the reader's (MESSAGE_REMOVED).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

_GROUPS = [
    {"TYPE_INT32", "TYPE_UINT32", "TYPE_INT64", "TYPE_UINT64", "TYPE_BOOL"},
    {"TYPE_SINT32", "TYPE_SINT64"},
    {"TYPE_FIXED32", "TYPE_SFIXED32"},
    {"TYPE_FIXED64", "TYPE_SFIXED64"},
    {"TYPE_STRING", "TYPE_BYTES"},
]
_NOT_PACKABLE = {"TYPE_STRING", "TYPE_BYTES", "TYPE_MESSAGE", "TYPE_GROUP"}


def parse(text: str) -> Any:
    """The FileDescriptorProto of a base64 schema, or None for `.proto` text."""
    from google.protobuf import descriptor_pb2

    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        proto.ParseFromString(raw)
    except Exception:  # noqa: BLE001 - any decode failure means "not a descriptor"
        return None
    return proto


def _messages(file_proto: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = f".{file_proto.package}" if file_proto.package else ""

    def walk(msgs: Any, scope: str) -> None:
        for m in msgs:
            name = f"{scope}.{m.name}"
            out[name] = m
            walk(m.nested_type, name)

    walk(file_proto.message_type, prefix)
    return out


def _kind(field: Any) -> str:
    from google.protobuf import descriptor_pb2

    name = str(descriptor_pb2.FieldDescriptorProto.Type.Name(field.type))
    return f"{name}:{field.type_name}" if field.type_name else name


def read_errors(
    reader: Any, writer: Any, *, reader_label: str = "new", writer_label: str = "old"
) -> list[str]:
    if reader is None or writer is None:
        return []
    out: list[str] = []
    r_msgs, w_msgs = _messages(reader), _messages(writer)
    for name, w in w_msgs.items():
        r = r_msgs.get(name)
        if r is None:
            out.append(
                f"message {name} of the {writer_label} schema was removed in the "
                f"{reader_label} schema (MESSAGE_REMOVED)"
            )
            continue
        r_fields = {f.number: f for f in r.field}
        w_fields = {f.number: f for f in w.field}
        for number, rf in r_fields.items():
            wf = w_fields.get(number)
            if wf is None:
                if rf.label == 2:  # LABEL_REQUIRED
                    out.append(
                        f"{name}.{rf.name} (field {number}) is a required field added "
                        f"in the {reader_label} schema (REQUIRED_FIELD_ADDED)"
                    )
                continue
            rk, wk = _kind(rf), _kind(wf)
            if rk != wk and not any(rk in g and wk in g for g in _GROUPS):
                out.append(
                    f"{name}.{rf.name} (field {number}) changed type from {wk} in the "
                    f"{writer_label} schema to {rk} (FIELD_KIND_CHANGED)"
                )
            elif (rf.label == 3) != (wf.label == 3) and (
                rk in _NOT_PACKABLE or wk in _NOT_PACKABLE
            ):
                out.append(
                    f"{name}.{rf.name} (field {number}) changed between singular and "
                    f"repeated (FIELD_LABEL_CHANGED)"
                )
    return out
