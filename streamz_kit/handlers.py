"""What to do with a record that cannot be read, processed or written.

Each of the three handlers is `"fail"` (the default: stop with an error that names the
record), `"log_and_continue"` (skip it, count it, log its coordinates) or
`dead_letter("topic")` (skip it and write its original key and value bytes to a topic, with
headers naming where it came from and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamz_kit.errors import ConfigError

FAIL = "fail"
LOG_AND_CONTINUE = "log_and_continue"


@dataclass(frozen=True)
class DeadLetter:
    topic: str

    def __post_init__(self) -> None:
        if not isinstance(self.topic, str) or not self.topic:
            raise ConfigError("dead_letter() needs a topic name, e.g. dead_letter('my-app-dlq').")

    @property
    def name(self) -> str:
        return "dead_letter"


Handler = str | DeadLetter


def dead_letter(topic: str) -> DeadLetter:
    """Send records this handler rejects to `topic` (created when the App starts)."""
    return DeadLetter(topic)


def resolve(spec: Any, what: str) -> Handler:
    if spec is None:
        return FAIL
    if isinstance(spec, DeadLetter):
        return spec
    if isinstance(spec, str):
        normal = spec.replace("-", "_").lower()
        if normal in (FAIL, LOG_AND_CONTINUE):
            return normal
        if normal.startswith("dead_letter:"):
            return DeadLetter(spec.split(":", 1)[1])
    raise ConfigError(
        f"{what} must be 'fail', 'log_and_continue' or dead_letter('topic'), not {spec!r}."
    )


@dataclass(frozen=True)
class ErrorHandlers:
    deserialization: Handler = FAIL
    processing: Handler = FAIL
    production: Handler = FAIL

    @classmethod
    def build(cls, deserialization: Any = None, processing: Any = None, production: Any = None
              ) -> "ErrorHandlers":
        return cls(
            resolve(deserialization, "deserialization_error_handler"),
            resolve(processing, "processing_error_handler"),
            resolve(production, "production_error_handler"),
        )

    def dead_letter_topics(self) -> list[str]:
        return sorted({h.topic for h in (self.deserialization, self.processing, self.production)
                       if isinstance(h, DeadLetter)})
