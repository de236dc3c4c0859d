"""Errors of the schema registry and the registry serdes, under `StreamzError`.

`RegistryError` carries Confluent's numeric `error_code` (40401 subject not found, 409
incompatible, ...) so code written against Confluent's client can branch on the same numbers.
"""

from __future__ import annotations

from streamz_kit.errors import SerializationError, StreamzError


class RegistryError(StreamzError):
    """The schema registry refused a request, or answered something we cannot use."""

    def __init__(self, message: str, *, status: int = 500, error_code: int = 50001) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class SubjectNotFoundError(RegistryError):
    """No schema is registered under the subject (Confluent 40401)."""


class VersionNotFoundError(RegistryError):
    """The subject has no such version (Confluent 40402)."""


class SchemaNotFoundError(RegistryError):
    """No schema has this id, or the schema is not registered under the subject (40403)."""


class IncompatibleSchemaError(RegistryError):
    """The schema breaks the subject's compatibility level; `messages` say which field."""

    def __init__(self, message: str, *, messages: list[str] | None = None) -> None:
        super().__init__(message, status=409, error_code=409)
        self.messages = list(messages or [])


class InvalidSchemaError(RegistryError):
    """The schema text cannot be parsed as its type says (Confluent 42201)."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached after the configured retries."""


class SchemaSerdeError(SerializationError):
    """A registry serde could not encode or decode a record; says why and what to do."""


def describe_bytes(data: bytes | None, limit: int = 64) -> str:
    """Offending bytes for an error message, truncated (as serdes.describe_bytes; kept here
    so this package never imports serdes, which imports it)."""
    if data is None:
        return "None"
    suffix = f"... ({len(data)} bytes)" if len(data) > limit else ""
    return f"{data[:limit]!r}{suffix}"


_BY_CODE: dict[int, type[RegistryError]] = {
    40401: SubjectNotFoundError,
    40402: VersionNotFoundError,
    40403: SchemaNotFoundError,
    42201: InvalidSchemaError,
}


def from_response(status: int, body: object, what: str) -> RegistryError:
    """The error for a registry's error answer (`{"error_code": .., "message": ..}`)."""
    code = status
    message = f"HTTP {status}"
    if isinstance(body, dict):
        code = int(body.get("error_code", status) or status)
        message = str(body.get("message", message))
    if code == 409 or status == 409:
        return IncompatibleSchemaError(f"{what}: {message}")
    kind = _BY_CODE.get(code, RegistryError)
    return kind(f"{what}: {message}", status=status, error_code=code)
