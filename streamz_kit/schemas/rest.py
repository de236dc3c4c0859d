"""Confluent Schema Registry REST semantics over an `EmbeddedRegistry`, transport-free.

`handle(method, path, query, body)` returns `(status, json_body)`; the HTTP server
(server.py) and the in-process client (registry.py, for `embedded://`) both call it, so the
embedded registry behaves the same whether reached over HTTP or not. Routes, bodies and error
codes follow Confluent's API reference: subjects, versions, schemas by id, config (global and
per subject), compatibility tests, mode.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from streamz_kit.schemas.embedded import EmbeddedRegistry
from streamz_kit.schemas.errors import RegistryError
from streamz_kit.schemas.types import RegisteredSchema, Schema

Reply = tuple[int, Any]
Handler = Callable[..., Reply]


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "false").lower() == "true"


def _registered(r: RegisteredSchema) -> dict[str, Any]:
    return {"subject": r.subject, "version": r.version, "id": r.schema_id, **r.schema.to_dict()}


def _schema_body(body: Any) -> Schema:
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError(
            'Invalid schema: the body needs a "schema" string', status=422, error_code=42201
        )
    return Schema.from_dict(body)


def _version(text: str) -> int | str:
    if text == "latest":
        return text
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1 and number != -1:
        raise RegistryError(
            f"The specified version '{text}' is not a valid version id. Allowed values are "
            'between [1, 2^31-1] and the string "latest"',
            status=422,
            error_code=42202,
        )
    return "latest" if number == -1 else number


class RestApi:
    def __init__(self, registry: EmbeddedRegistry) -> None:
        self.registry = registry
        r = self
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/?"), lambda q, b: (200, {})),
            ("GET", re.compile(r"/subjects"), r.subjects),
            ("POST", re.compile(r"/subjects/([^/]+)/versions"), r.register),
            ("GET", re.compile(r"/subjects/([^/]+)/versions"), r.versions),
            ("GET", re.compile(r"/subjects/([^/]+)/versions/([^/]+)/schema"), r.version_schema),
            ("GET", re.compile(r"/subjects/([^/]+)/versions/([^/]+)/referencedby"), r.referenced),
            ("GET", re.compile(r"/subjects/([^/]+)/versions/([^/]+)"), r.version),
            ("DELETE", re.compile(r"/subjects/([^/]+)/versions/([^/]+)"), r.delete_version),
            ("POST", re.compile(r"/subjects/([^/]+)"), r.lookup),
            ("DELETE", re.compile(r"/subjects/([^/]+)"), r.delete_subject),
            (
                "GET",
                re.compile(r"/schemas/types"),
                lambda q, b: (200, ["JSON", "PROTOBUF", "AVRO"]),
            ),
            ("GET", re.compile(r"/schemas/ids/(\d+)/schema"), r.id_schema_text),
            ("GET", re.compile(r"/schemas/ids/(\d+)/subjects"), r.id_subjects),
            ("GET", re.compile(r"/schemas/ids/(\d+)/versions"), r.id_versions),
            ("GET", re.compile(r"/schemas/ids/(\d+)"), r.by_id),
            ("GET", re.compile(r"/schemas"), r.schemas),
            ("GET", re.compile(r"/config"), lambda q, b: r.get_config(q, b, None)),
            ("PUT", re.compile(r"/config"), lambda q, b: r.put_config(q, b, None)),
            ("DELETE", re.compile(r"/config"), lambda q, b: r.delete_config(q, b, None)),
            ("GET", re.compile(r"/config/([^/]+)"), r.get_config),
            ("PUT", re.compile(r"/config/([^/]+)"), r.put_config),
            ("DELETE", re.compile(r"/config/([^/]+)"), r.delete_config),
            ("GET", re.compile(r"/mode"), lambda q, b: r.get_mode(q, b, None)),
            ("PUT", re.compile(r"/mode"), lambda q, b: r.put_mode(q, b, None)),
            ("GET", re.compile(r"/mode/([^/]+)"), r.get_mode),
            ("PUT", re.compile(r"/mode/([^/]+)"), r.put_mode),
            ("POST", re.compile(r"/compatibility/subjects/([^/]+)/versions/([^/]+)"), r.compat_one),
            ("POST", re.compile(r"/compatibility/subjects/([^/]+)/versions"), r.compat_all),
        ]

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        path = path.rstrip("/") or "/"
        for verb, pattern, handler in self.routes:
            m = pattern.fullmatch(path)
            if m and verb == method:
                try:
                    return handler(query, body, *[unquote(g) for g in m.groups()])
                except RegistryError as exc:
                    return exc.status, {"error_code": exc.error_code, "message": str(exc)}
                except ValueError as exc:
                    return 422, {"error_code": 42201, "message": f"Invalid schema: {exc}"}
        return 404, {"error_code": 404, "message": f"HTTP 404 Not Found: {method} {path}"}

    # -- subjects and versions ------------------------------------------------------------
    def subjects(self, q: dict[str, str], b: Any) -> Reply:
        names = self.registry.list_subjects(_flag(q, "deleted"))
        prefix = q.get("subjectPrefix", "")
        return 200, [n for n in names if n.startswith(prefix)]

    def versions(self, q: dict[str, str], b: Any, subject: str) -> Reply:
        return 200, self.registry.list_versions(subject, _flag(q, "deleted"))

    def register(self, q: dict[str, str], b: Any, subject: str) -> Reply:
        schema = _schema_body(b)
        wanted_id = b.get("id") if isinstance(b, dict) else None
        r = self.registry.register(subject, schema, schema_id=wanted_id)
        return 200, {
            "id": r.schema_id,
            "version": r.version,
            "subject": subject,
            **r.schema.to_dict(),
        }

    def version(self, q: dict[str, str], b: Any, subject: str, version: str) -> Reply:
        r = self.registry.version(subject, _version(version), _flag(q, "deleted"))
        return 200, _registered(r)

    def version_schema(self, q: dict[str, str], b: Any, subject: str, version: str) -> Reply:
        return 200, self.registry.version(subject, _version(version)).schema.schema_str

    def referenced(self, q: dict[str, str], b: Any, subject: str, version: str) -> Reply:
        return 200, self.registry.referenced_by(subject, _version(version))

    def delete_version(self, q: dict[str, str], b: Any, subject: str, version: str) -> Reply:
        return 200, self.registry.delete_version(subject, _version(version), _flag(q, "permanent"))

    def lookup(self, q: dict[str, str], b: Any, subject: str) -> Reply:
        return 200, _registered(self.registry.lookup(subject, _schema_body(b), _flag(q, "deleted")))

    def delete_subject(self, q: dict[str, str], b: Any, subject: str) -> Reply:
        return 200, self.registry.delete_subject(subject, _flag(q, "permanent"))

    # -- schemas by id --------------------------------------------------------------------
    def by_id(self, q: dict[str, str], b: Any, sid: str) -> Reply:
        return 200, self.registry.schema_by_id(int(sid)).to_dict()

    def id_schema_text(self, q: dict[str, str], b: Any, sid: str) -> Reply:
        return 200, self.registry.schema_by_id(int(sid)).schema_str

    def id_subjects(self, q: dict[str, str], b: Any, sid: str) -> Reply:
        return 200, sorted({s for s, _ in self.registry.ids_usage(int(sid))})

    def id_versions(self, q: dict[str, str], b: Any, sid: str) -> Reply:
        return 200, [{"subject": s, "version": n} for s, n in self.registry.ids_usage(int(sid))]

    def schemas(self, q: dict[str, str], b: Any) -> Reply:
        prefix = q.get("subjectPrefix", "")
        out = []
        for subject in self.registry.list_subjects():
            if not subject.startswith(prefix):
                continue
            versions = self.registry.list_versions(subject)
            if _flag(q, "latestOnly"):
                versions = versions[-1:]
            out += [_registered(self.registry.version(subject, n)) for n in versions]
        return 200, out

    # -- config, mode, compatibility ------------------------------------------------------
    def get_config(self, q: dict[str, str], b: Any, subject: str | None) -> Reply:
        fallback = subject is None or _flag(q, "defaultToGlobal")
        level = self.registry.compatibility(subject, fallback=fallback)
        if level is None:
            raise RegistryError(
                f"Subject '{subject}' does not have subject-level compatibility configured",
                status=404,
                error_code=40408,
            )
        return 200, {"compatibilityLevel": level}

    def put_config(self, q: dict[str, str], b: Any, subject: str | None) -> Reply:
        level = b.get("compatibility") if isinstance(b, dict) else None
        if not isinstance(level, str):
            raise RegistryError(
                'The body needs {"compatibility": LEVEL}', status=422, error_code=42203
            )
        self.registry.set_compatibility(subject, level)
        return 200, {"compatibility": level.upper()}

    def delete_config(self, q: dict[str, str], b: Any, subject: str | None) -> Reply:
        previous = self.registry.compatibility(subject)
        self.registry.set_compatibility(subject, None)
        return 200, {"compatibilityLevel": previous}

    def get_mode(self, q: dict[str, str], b: Any, subject: str | None) -> Reply:
        fallback = subject is None or _flag(q, "defaultToGlobal")
        mode = self.registry.get_mode(subject, fallback=fallback)
        if mode is None:
            raise RegistryError(
                f"Subject '{subject}' does not have subject-level mode configured",
                status=404,
                error_code=40409,
            )
        return 200, {"mode": mode}

    def put_mode(self, q: dict[str, str], b: Any, subject: str | None) -> Reply:
        mode = b.get("mode") if isinstance(b, dict) else None
        if not isinstance(mode, str):
            raise RegistryError('The body needs {"mode": MODE}', status=422, error_code=42204)
        self.registry.set_mode(subject, mode)
        return 200, {"mode": mode.upper()}

    def _compat_reply(self, q: dict[str, str], problems: list[str]) -> Reply:
        body: dict[str, Any] = {"is_compatible": not problems}
        if _flag(q, "verbose"):
            body["messages"] = problems
        return 200, body

    def compat_one(self, q: dict[str, str], b: Any, subject: str, version: str) -> Reply:
        schema = _schema_body(b)
        if not self.registry.subjects.get(subject) and version == "latest":
            return self._compat_reply(q, [])
        problems = self.registry.compatibility_errors(subject, schema, _version(version))
        return self._compat_reply(q, problems)

    def compat_all(self, q: dict[str, str], b: Any, subject: str) -> Reply:
        return self._compat_reply(q, self.registry.compatibility_errors(subject, _schema_body(b)))
