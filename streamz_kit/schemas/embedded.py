"""The embedded schema registry: schemas kept in a compacted `_schemas` topic of the log.

As in Confluent's registry and Karapace, the topic is the source of truth and every process
rebuilds the same state by replaying it: keys say what a record is about (a subject version,
a subject's or the global config or mode), values hold the schema, its id and whether it is
soft-deleted; a null value deletes. Ids are written into the records, so they are stable
across restarts and shared by every process on the same log.

Writes are optimistic: catch up with the topic, decide (ids, versions), then append inside
one SQLite write transaction only if nobody appended since; otherwise catch up and decide
again. Two processes registering at once therefore never hand out the same id.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamz_kit.schemas import compat
from streamz_kit.schemas.errors import (
    IncompatibleSchemaError,
    InvalidSchemaError,
    RegistryError,
    SchemaNotFoundError,
    SubjectNotFoundError,
    VersionNotFoundError,
)
from streamz_kit.schemas.types import RegisteredSchema, Schema
from streamz_kit.transport.embedded.log import Log
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

TOPIC = "_schemas"
_TP = TopicPartition(TOPIC, 0)
DEFAULT_COMPATIBILITY = "BACKWARD"
MODES = ("READWRITE", "READONLY", "IMPORT")

Entry = tuple[bytes, bytes | None]


@dataclass
class _Version:
    schema_id: int
    deleted: bool


def _key(**fields: Any) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


class EmbeddedRegistry:
    """Registry state over one embedded log directory; thread-safe (the REST server is)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.log = Log(self.path)
        self.log.db.open()
        self.log.db.write(
            lambda c: self.log.create_topics(
                c, [TopicSpec(TOPIC, 1, {"cleanup.policy": "compact"})]
            )
        )
        self._lock = threading.RLock()
        self._next = 0
        self.schemas: dict[int, Schema] = {}
        self._ids: dict[tuple[Any, ...], int] = {}
        self.subjects: dict[str, dict[int, _Version]] = {}
        self.config: dict[str | None, str] = {}
        self.mode: dict[str | None, str] = {}
        self.catch_up()

    def close(self) -> None:
        self.log.db.close()

    # -- replaying the topic ---------------------------------------------------------------
    def catch_up(self) -> None:
        with self._lock:
            info = self.log.topic(TOPIC)
            assert info is not None
            end = self.log.db.read(lambda c: self.log.end_offset(c, _TP))
            while self._next < end:
                batches, _ = self.log.fetch(info.id, 0, self._next, 2000)
                if not batches:
                    break
                for batch in batches:
                    for offset, key, value in zip(batch.offsets, batch.keys, batch.values):
                        self._apply(key, value)
                        self._next = offset + 1
            self._next = max(self._next, end)

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        k = json.loads(key)
        kind = k.get("keytype")
        v = json.loads(value) if value is not None else None
        if kind == "SCHEMA":
            versions = self.subjects.setdefault(k["subject"], {})
            if v is None:
                versions.pop(int(k["version"]), None)
                if not versions:
                    self.subjects.pop(k["subject"], None)
                return
            schema = Schema.from_dict(v)
            sid = int(v["id"])
            self.schemas.setdefault(sid, schema)
            self._ids.setdefault(schema.identity(), sid)
            versions[int(v["version"])] = _Version(sid, bool(v.get("deleted")))
        elif kind in ("CONFIG", "MODE"):
            table = self.config if kind == "CONFIG" else self.mode
            if v is None:
                table.pop(k.get("subject"), None)
            else:
                table[k.get("subject")] = v["compatibilityLevel" if kind == "CONFIG" else "mode"]

    def _write(self, plan: Callable[[], tuple[list[Entry], Any]]) -> Any:
        """Append what `plan` decides from the current state, retrying if the topic moved."""
        with self._lock:
            while True:
                self.catch_up()
                entries, result = plan()
                if not entries:
                    return result
                expected = self._next
                now = int(time.time() * 1000)
                records = [ProducerRecord(TOPIC, 0, k, v, now, ()) for k, v in entries]

                def append(
                    conn: Any, expected: int = expected, records: list[ProducerRecord] = records
                ) -> bool:
                    if self.log.end_offset(conn, _TP) != expected:
                        return False
                    self.log.append(conn, records, {}, None)
                    return True

                if self.log.db.write(append):
                    self.catch_up()
                    return result

    # -- lookups ---------------------------------------------------------------------------
    def _versions(self, subject: str, deleted: bool = False) -> dict[int, _Version]:
        versions = {
            n: v for n, v in self.subjects.get(subject, {}).items() if deleted or not v.deleted
        }
        if not versions:
            raise SubjectNotFoundError(
                f"Subject '{subject}' not found.", status=404, error_code=40401
            )
        return versions

    def schema_by_id(self, schema_id: int) -> Schema:
        schema = self.schemas.get(schema_id)
        if schema is None:
            self.catch_up()
            schema = self.schemas.get(schema_id)
        if schema is None:
            raise SchemaNotFoundError(f"Schema {schema_id} not found", status=404, error_code=40403)
        return schema

    def list_subjects(self, deleted: bool = False) -> list[str]:
        self.catch_up()
        return sorted(
            s
            for s, vs in self.subjects.items()
            if any(deleted or not v.deleted for v in vs.values())
        )

    def list_versions(self, subject: str, deleted: bool = False) -> list[int]:
        self.catch_up()
        return sorted(self._versions(subject, deleted))

    def version(self, subject: str, version: int | str, deleted: bool = False) -> RegisteredSchema:
        self.catch_up()
        versions = self._versions(subject, deleted)
        if str(version) in ("latest", "-1"):
            number = max(versions)
        else:
            number = int(version)
            if number not in versions:
                raise VersionNotFoundError(
                    f"Version {number} not found.", status=404, error_code=40402
                )
        sid = versions[number].schema_id
        return RegisteredSchema(sid, subject, number, self.schemas[sid])

    def lookup(self, subject: str, schema: Schema, deleted: bool = False) -> RegisteredSchema:
        self.catch_up()
        versions = self._versions(subject, deleted)
        sid = self._ids.get(schema.identity())
        for number in sorted(versions, reverse=True):
            if versions[number].schema_id == sid:
                return RegisteredSchema(sid, subject, number, self.schemas[sid])
        raise SchemaNotFoundError("Schema not found", status=404, error_code=40403)

    def ids_usage(self, schema_id: int) -> list[tuple[str, int]]:
        self.schema_by_id(schema_id)
        return sorted(
            (s, n)
            for s, vs in self.subjects.items()
            for n, v in vs.items()
            if v.schema_id == schema_id and not v.deleted
        )

    def referenced_by(self, subject: str, version: int | str) -> list[int]:
        target = self.version(subject, version)
        return sorted(
            {
                sid
                for sid, s in self.schemas.items()
                if any(r.subject == subject and r.version == target.version for r in s.references)
            }
        )

    def compatibility(self, subject: str | None, *, fallback: bool = True) -> str | None:
        self.catch_up()
        level = self.config.get(subject)
        if level is None and fallback:
            level = self.config.get(None, DEFAULT_COMPATIBILITY)
        return level

    def get_mode(self, subject: str | None, *, fallback: bool = True) -> str | None:
        self.catch_up()
        mode = self.mode.get(subject)
        if mode is None and fallback:
            mode = self.mode.get(None, "READWRITE")
        return mode

    # -- checks ----------------------------------------------------------------------------
    def _validate(self, schema: Schema) -> None:
        if schema.schema_type not in ("AVRO", "JSON", "PROTOBUF"):
            raise InvalidSchemaError(
                f"Unknown schema type {schema.schema_type}", status=422, error_code=42201
            )
        for ref in schema.references:
            versions = self.subjects.get(ref.subject, {})
            if ref.version not in versions and not (ref.version == -1 and versions):
                raise InvalidSchemaError(
                    f"Invalid schema: the reference {ref.name} names {ref.subject} version "
                    f"{ref.version}, which is not registered; register it first.",
                    status=422,
                    error_code=42201,
                )
        if schema.schema_type == "AVRO" and not schema.references:
            try:
                compat.parse(schema)
            except ValueError as exc:
                raise InvalidSchemaError(
                    f"Invalid schema {schema.schema_str[:200]}: {exc}", status=422, error_code=42201
                ) from exc
        elif schema.schema_type == "JSON":
            try:
                compat.parse(schema)
            except ValueError as exc:
                raise InvalidSchemaError(
                    f"Invalid schema: {exc}", status=422, error_code=42201
                ) from exc

    def compatibility_errors(
        self, subject: str, schema: Schema, version: int | str | None = None
    ) -> list[str]:
        """Why `schema` may not join `subject` (against `version`, or as the level says)."""
        self.catch_up()
        versions = {n: v for n, v in self.subjects.get(subject, {}).items() if not v.deleted}
        level = self.compatibility(subject) or DEFAULT_COMPATIBILITY
        if version is None:
            earlier = [self.schemas[versions[n].schema_id] for n in sorted(versions)]
        else:
            one = self.version(subject, version)
            earlier = [one.schema]
            level = level.removesuffix("_TRANSITIVE")
        if schema.references or any(s.references for s in earlier):
            return []  # references are resolved by the serializers, not checked here
        try:
            return compat.errors(level, schema, earlier)
        except ValueError as exc:
            raise InvalidSchemaError(str(exc), status=422, error_code=42201) from exc

    # -- writes ----------------------------------------------------------------------------
    def register(
        self,
        subject: str,
        schema: Schema,
        *,
        schema_id: int | None = None,
        version: int | None = None,
    ) -> RegisteredSchema:
        def plan() -> tuple[list[Entry], RegisteredSchema]:
            self._validate(schema)
            if self.get_mode(subject) == "READONLY":
                raise RegistryError(
                    f"Subject {subject} is in read-only mode", status=422, error_code=42205
                )
            versions = self.subjects.get(subject, {})
            sid = self._ids.get(schema.identity())
            for number in sorted(versions, reverse=True):
                v = versions[number]
                if v.schema_id == sid and not v.deleted:
                    return [], RegisteredSchema(sid, subject, number, self.schemas[sid])
            problems = self.compatibility_errors(subject, schema)
            if problems:
                raise IncompatibleSchemaError(
                    f"Schema being registered is incompatible with an earlier schema for "
                    f'subject "{subject}", details: [{", ".join(problems)}]',
                    messages=problems,
                )
            if sid is None:
                sid = schema_id if schema_id is not None else max(self.schemas, default=0) + 1
            number = version if version is not None else max(versions, default=0) + 1
            value = {
                "subject": subject,
                "version": number,
                "id": sid,
                **schema.to_dict(),
                "deleted": False,
            }
            key = _key(keytype="SCHEMA", subject=subject, version=number, magic=1)
            stored = Schema(schema.schema_str, schema.schema_type, schema.references)
            return [(key, json.dumps(value).encode())], RegisteredSchema(
                sid, subject, number, stored
            )

        result: RegisteredSchema = self._write(plan)
        return RegisteredSchema(
            result.schema_id, subject, result.version, self.schemas[result.schema_id]
        )

    def delete_version(self, subject: str, version: int | str, permanent: bool) -> int:
        def plan() -> tuple[list[Entry], int]:
            target = self.version(subject, version, deleted=permanent)
            number = target.version
            v = self.subjects[subject][number]
            key = _key(keytype="SCHEMA", subject=subject, version=number, magic=1)
            if permanent:
                if not v.deleted:
                    raise RegistryError(
                        f"Subject '{subject}' Version {number} was not deleted first before "
                        "being permanently deleted",
                        status=404,
                        error_code=40407,
                    )
                return [(key, None)], number
            value = {
                "subject": subject,
                "version": number,
                "id": v.schema_id,
                **self.schemas[v.schema_id].to_dict(),
                "deleted": True,
            }
            return [(key, json.dumps(value).encode())], number

        result: int = self._write(plan)
        return result

    def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        def plan() -> tuple[list[Entry], list[int]]:
            versions = self._versions(subject, deleted=permanent)
            if permanent and any(not v.deleted for v in versions.values()):
                raise RegistryError(
                    f"Subject '{subject}' was not deleted first before being permanently deleted",
                    status=404,
                    error_code=40405,
                )
            entries: list[Entry] = []
            for number, v in sorted(versions.items()):
                key = _key(keytype="SCHEMA", subject=subject, version=number, magic=1)
                if permanent:
                    entries.append((key, None))
                else:
                    value = {
                        "subject": subject,
                        "version": number,
                        "id": v.schema_id,
                        **self.schemas[v.schema_id].to_dict(),
                        "deleted": True,
                    }
                    entries.append((key, json.dumps(value).encode()))
            return entries, sorted(versions)

        result: list[int] = self._write(plan)
        return result

    def set_compatibility(self, subject: str | None, level: str | None) -> None:
        if level is not None and level.upper() not in compat.LEVELS:
            raise RegistryError(
                f"Invalid compatibility level {level!r}; use one of {', '.join(compat.LEVELS)}",
                status=422,
                error_code=42203,
            )
        key = _key(keytype="CONFIG", subject=subject, magic=0)
        value = (
            None if level is None else json.dumps({"compatibilityLevel": level.upper()}).encode()
        )
        self._write(lambda: ([(key, value)], None))

    def set_mode(self, subject: str | None, mode: str | None) -> None:
        if mode is not None and mode.upper() not in MODES:
            raise RegistryError(
                f"Invalid mode {mode!r}; use one of {', '.join(MODES)}",
                status=422,
                error_code=42204,
            )
        key = _key(keytype="MODE", subject=subject, magic=0)
        value = None if mode is None else json.dumps({"mode": mode.upper()}).encode()
        self._write(lambda: ([(key, value)], None))
