"""`SchemaRegistry(url)`: one client for a Confluent-compatible registry or the embedded one.

`http(s)://host:port` talks REST through httpx (http.py); `embedded://PATH` calls the same
REST semantics in-process (rest.py over embedded.py), so both behave alike. Every method has
an async twin with the `_async` suffix. Schemas by id are immutable and cached forever;
registrations and lookups are cached per (subject, schema). Registration checks
compatibility first, so an incompatible schema fails with the registry's reasons (which name
the field) before anything is produced.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from streamz_kit.errors import ConfigError
from streamz_kit.schemas.errors import (
    IncompatibleSchemaError,
    RegistryError,
    SubjectNotFoundError,
    from_response,
)
from streamz_kit.schemas.types import RegisteredSchema, Schema

SchemaLike = Schema | str | dict[str, Any]

_EMBEDDED: dict[str, Any] = {}
_EMBEDDED_LOCK = threading.Lock()


def embedded_registry(path: str) -> Any:
    """The process's one EmbeddedRegistry for `path` (shared by every client and serde)."""
    from streamz_kit.schemas.embedded import EmbeddedRegistry

    path = os.path.abspath(path)
    with _EMBEDDED_LOCK:
        reg = _EMBEDDED.get(path)
        if reg is None:
            reg = _EMBEDDED[path] = EmbeddedRegistry(path)
        return reg


class _InProcess:
    """The embedded registry, opened at the first request (so building a topology that
    names a registry does not create its log directory)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.url = f"embedded://{self.path}"
        self._api: Any = None

    def request(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if self._api is None:
            from streamz_kit.schemas.rest import RestApi

            self._api = RestApi(embedded_registry(self.path))
        result: tuple[int, Any] = self._api.handle(method, path, query, body)
        return result

    async def arequest(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        return self.request(method, path, query, body)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def as_schema(schema: SchemaLike, schema_type: str = "AVRO") -> Schema:
    import json

    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema(json.dumps(schema), schema_type)
    return Schema(str(schema), schema_type)


@dataclass(frozen=True)
class _Req:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    what: str
    parse: Callable[[Any], Any]


def _s(subject: str) -> str:
    return quote(subject, safe="")


class SchemaRegistry:
    """A schema registry client; see the module docstring.

    `basic_auth=("user", "secret")` (or `user:secret@` in the URL), `verify` (False, or a CA
    bundle path), `cert` (client certificate path, or (cert, key)), `timeout` seconds, and
    `max_retries` with exponential backoff from `retry_backoff_ms` apply to http(s) URLs.
    """

    def __init__(
        self,
        url: str,
        *,
        basic_auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        timeout: float = 10.0,
        max_retries: int = 3,
        retry_backoff_ms: int = 100,
        retry_max_backoff_ms: int = 2000,
        check_compatibility: bool = True,
    ) -> None:
        scheme, sep, rest = str(url).partition("://")
        scheme = scheme.lower()
        self.check_compatibility = check_compatibility
        self._transport: Any
        if sep and scheme == "embedded" and rest.strip():
            self._transport = _InProcess(rest)
        elif sep and scheme in ("http", "https"):
            from streamz_kit.schemas.http import HttpTransport

            if "@" in rest.split("/", 1)[0] and basic_auth is None:
                creds, _, host = rest.partition("@")
                user, _, password = creds.partition(":")
                basic_auth = (user, password)
                url = f"{scheme}://{host}"
            self._transport = HttpTransport(
                url,
                basic_auth=basic_auth,
                verify=verify,
                cert=cert,
                timeout=timeout,
                max_retries=max_retries,
                retry_backoff_ms=retry_backoff_ms,
                retry_max_backoff_ms=retry_max_backoff_ms,
            )
        else:
            raise ConfigError(
                f"Schema registry URL {url!r} is not one we know: use 'http(s)://host:port' for "
                "a Confluent-compatible registry or 'embedded://PATH' for the one kept in an "
                "embedded log (e.g. 'embedded://.streamz')."
            )
        self.url = self._transport.url
        self._by_id: dict[int, Schema] = {}
        self._registered: dict[tuple[str, Any], RegisteredSchema] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SchemaRegistry({self.url!r})"

    # -- plumbing --------------------------------------------------------------------------
    def _finish(self, req: _Req, status: int, body: Any) -> Any:
        if status >= 400:
            raise from_response(status, body, f"{req.what} failed at {self.url}")
        return req.parse(body)

    def _run(self, req: _Req) -> Any:
        status, body = self._transport.request(req.method, req.path, req.query, req.body)
        return self._finish(req, status, body)

    async def _arun(self, req: _Req) -> Any:
        status, body = await self._transport.arequest(req.method, req.path, req.query, req.body)
        return self._finish(req, status, body)

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._transport.aclose()

    # -- request specs ---------------------------------------------------------------------
    def _remember(self, subject: str, schema: Schema) -> Callable[[Any], RegisteredSchema]:
        def parse(body: Any) -> RegisteredSchema:
            r = RegisteredSchema(int(body["id"]), subject, int(body.get("version") or 0), schema)
            with self._lock:
                self._registered[(subject, schema.identity())] = r
                self._by_id.setdefault(r.schema_id, schema)
            return r

        return parse

    def _register_req(self, subject: str, schema: Schema, normalize: bool) -> _Req:
        return _Req(
            "POST",
            f"/subjects/{_s(subject)}/versions",
            {"normalize": str(normalize).lower()},
            schema.to_dict(),
            f"Registering a schema under subject {subject!r}",
            self._remember(subject, schema),
        )

    def _compat_req(self, subject: str, schema: Schema, version: int | str | None) -> _Req:
        path = f"/compatibility/subjects/{_s(subject)}/versions"
        if version is not None:
            path += f"/{version}"
        return _Req(
            "POST",
            path,
            {"verbose": "true"},
            schema.to_dict(),
            f"Checking compatibility with subject {subject!r}",
            lambda b: (
                []
                if b.get("is_compatible")
                else list(b.get("messages") or ["the registry gave no reason"])
            ),
        )

    def _lookup_req(self, subject: str, schema: Schema) -> _Req:
        return _Req(
            "POST",
            f"/subjects/{_s(subject)}",
            {},
            schema.to_dict(),
            f"Looking up a schema in subject {subject!r}",
            self._remember(subject, schema),
        )

    def _by_id_req(self, schema_id: int) -> _Req:
        def parse(body: Any) -> Schema:
            schema = Schema.from_dict(body)
            with self._lock:
                self._by_id[schema_id] = schema
            return schema

        return _Req(
            "GET", f"/schemas/ids/{schema_id}", {}, None, f"Fetching schema id {schema_id}", parse
        )

    def _version_req(self, subject: str, version: int | str) -> _Req:
        return _Req(
            "GET",
            f"/subjects/{_s(subject)}/versions/{version}",
            {},
            None,
            f"Fetching version {version} of subject {subject!r}",
            lambda b: RegisteredSchema(
                int(b["id"]), str(b.get("subject", subject)), int(b["version"]), Schema.from_dict(b)
            ),
        )

    def _incompatible(self, subject: str, problems: list[str]) -> IncompatibleSchemaError:
        return IncompatibleSchemaError(
            f"The schema is incompatible with subject {subject!r} at {self.url} "
            f"({self.get_compatibility_safe(subject)}): {'; '.join(problems)}. Make the change "
            "compatible (for instance give a new field a default), or change the subject's "
            "compatibility level if every reader and writer is upgraded together.",
            messages=problems,
        )

    def get_compatibility_safe(self, subject: str) -> str:
        try:
            return self.get_compatibility(subject)
        except RegistryError:
            return "level unknown"

    # -- the API, sync ----------------------------------------------------------------------
    def register(self, subject: str, schema: SchemaLike, *, normalize: bool = False) -> int:
        """The id of `schema` under `subject`, registering it (after a compatibility check)
        if it is new there."""
        return self.register_full(subject, schema, normalize=normalize).schema_id

    def register_full(
        self, subject: str, schema: SchemaLike, *, normalize: bool = False
    ) -> RegisteredSchema:
        s = as_schema(schema)
        cached = self._registered.get((subject, s.identity()))
        if cached is not None:
            return cached
        if self.check_compatibility:
            try:
                problems = self._run(self._compat_req(subject, s, None))
            except (SubjectNotFoundError, RegistryError) as exc:
                if exc.error_code not in (40401, 40402, 404):
                    raise
                problems = []
            if problems:
                raise self._incompatible(subject, problems)
        try:
            result: RegisteredSchema = self._run(self._register_req(subject, s, normalize))
        except IncompatibleSchemaError as exc:
            raise self._incompatible(subject, exc.messages or [str(exc)]) from exc
        return result

    def lookup(self, subject: str, schema: SchemaLike) -> RegisteredSchema:
        """Where `schema` is registered under `subject`; SchemaNotFoundError if it is not."""
        s = as_schema(schema)
        cached = self._registered.get((subject, s.identity()))
        if cached is not None:
            return cached
        result: RegisteredSchema = self._run(self._lookup_req(subject, s))
        return result

    def get_schema(self, schema_id: int) -> Schema:
        """The schema with this id (cached: ids never change meaning)."""
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        result: Schema = self._run(self._by_id_req(schema_id))
        return result

    def get_latest_version(self, subject: str) -> RegisteredSchema:
        result: RegisteredSchema = self._run(self._version_req(subject, "latest"))
        return result

    def get_version(self, subject: str, version: int) -> RegisteredSchema:
        result: RegisteredSchema = self._run(self._version_req(subject, version))
        return result

    def get_subjects(self) -> list[str]:
        return list(self._run(_Req("GET", "/subjects", {}, None, "Listing subjects", list)))

    def get_versions(self, subject: str) -> list[int]:
        return list(
            self._run(
                _Req(
                    "GET",
                    f"/subjects/{_s(subject)}/versions",
                    {},
                    None,
                    f"Listing versions of subject {subject!r}",
                    list,
                )
            )
        )

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        with self._lock:
            self._registered = {k: v for k, v in self._registered.items() if k[0] != subject}
        return list(
            self._run(
                _Req(
                    "DELETE",
                    f"/subjects/{_s(subject)}",
                    {"permanent": str(permanent).lower()},
                    None,
                    f"Deleting subject {subject!r}",
                    list,
                )
            )
        )

    def test_compatibility(
        self, subject: str, schema: SchemaLike, version: int | str | None = "latest"
    ) -> list[str]:
        """Why `schema` would break `subject` (empty list: compatible). `version=None`
        checks as the subject's level says (all versions for transitive levels)."""
        result: list[str] = self._run(self._compat_req(subject, as_schema(schema), version))
        return result

    def get_compatibility(self, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{_s(subject)}"
        query = {} if subject is None else {"defaultToGlobal": "true"}
        return str(
            self._run(
                _Req(
                    "GET",
                    path,
                    query,
                    None,
                    "Reading compatibility",
                    lambda b: b["compatibilityLevel"],
                )
            )
        )

    def set_compatibility(self, level: str, subject: str | None = None) -> str:
        """Set the level for `subject`, or the global default when subject is None."""
        path = "/config" if subject is None else f"/config/{_s(subject)}"
        return str(
            self._run(
                _Req(
                    "PUT",
                    path,
                    {},
                    {"compatibility": level.upper()},
                    "Setting compatibility",
                    lambda b: b["compatibility"],
                )
            )
        )

    # -- the API, async ---------------------------------------------------------------------
    async def register_async(
        self, subject: str, schema: SchemaLike, *, normalize: bool = False
    ) -> int:
        s = as_schema(schema)
        cached = self._registered.get((subject, s.identity()))
        if cached is not None:
            return cached.schema_id
        if self.check_compatibility:
            try:
                problems = await self._arun(self._compat_req(subject, s, None))
            except RegistryError as exc:
                if exc.error_code not in (40401, 40402, 404):
                    raise
                problems = []
            if problems:
                raise self._incompatible(subject, problems)
        result: RegisteredSchema = await self._arun(self._register_req(subject, s, normalize))
        return result.schema_id

    async def lookup_async(self, subject: str, schema: SchemaLike) -> RegisteredSchema:
        s = as_schema(schema)
        cached = self._registered.get((subject, s.identity()))
        if cached is not None:
            return cached
        result: RegisteredSchema = await self._arun(self._lookup_req(subject, s))
        return result

    async def get_schema_async(self, schema_id: int) -> Schema:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        result: Schema = await self._arun(self._by_id_req(schema_id))
        return result

    async def get_latest_version_async(self, subject: str) -> RegisteredSchema:
        result: RegisteredSchema = await self._arun(self._version_req(subject, "latest"))
        return result

    async def test_compatibility_async(
        self, subject: str, schema: SchemaLike, version: int | str | None = "latest"
    ) -> list[str]:
        result: list[str] = await self._arun(self._compat_req(subject, as_schema(schema), version))
        return result
