"""What to do with a record that cannot be read, processed or written.

Each of the three handlers is `"fail"` (the default: stop with an error that names the
record), `"log_and_continue"` (skip it, count it, log its coordinates),
`dead_letter("topic")` (skip it and write its original key and value bytes to a topic, with
headers naming where it came from and why), or a function `handler(context, exc)` that
returns `"continue"` (skip the record) or `"fail"` (KIP-1033 style), where `context` is an
`ErrorContext` naming the record's topic, partition, offset, the operator (processor node)
that failed and the record's raw key and value bytes.
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class ErrorContext:
    """What a handler function is told about the record that failed."""

    kind: str  # "deserialization" | "processing" | "production"
    topic: str
    partition: int
    offset: int
    operator: str | None  # the processor node that failed (the source for deserialization)
    key: bytes | None  # the record's raw key and value bytes, as read from the topic
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes], ...]
    task_id: str


CONTINUE = "continue"
HandlerFunction = Callable[[ErrorContext, BaseException], str]
Handler = str | DeadLetter | HandlerFunction


def dead_letter(topic: str) -> DeadLetter:
    """Send records this handler rejects to `topic` (created when the App starts)."""
    return DeadLetter(topic)


def resolve(spec: Any, what: str) -> Handler:
    if spec is None:
        return FAIL
    if isinstance(spec, DeadLetter):
        return spec
    if callable(spec) and not isinstance(spec, str):
        return spec  # type: ignore[no-any-return]
    if isinstance(spec, str):
        normal = spec.replace("-", "_").lower()
        if normal in (FAIL, LOG_AND_CONTINUE):
            return normal
        if normal.startswith("dead_letter:"):
            return DeadLetter(spec.split(":", 1)[1])
    raise ConfigError(
        f"{what} must be 'fail', 'log_and_continue', dead_letter('topic') or a function "
        f"handler(context, exc) returning 'continue' or 'fail', not {spec!r}."
    )


@dataclass(frozen=True)
class ErrorHandlers:
    deserialization: Handler = FAIL
    processing: Handler = FAIL
    production: Handler = FAIL

    @classmethod
    def build(
        cls, deserialization: Any = None, processing: Any = None, production: Any = None
    ) -> ErrorHandlers:
        return cls(
            resolve(deserialization, "deserialization_error_handler"),
            resolve(processing, "processing_error_handler"),
            resolve(production, "production_error_handler"),
        )

    def dead_letter_topics(self) -> list[str]:
        return sorted(
            {
                h.topic
                for h in (self.deserialization, self.processing, self.production)
                if isinstance(h, DeadLetter)
            }
        )


def ask(handler: HandlerFunction, context: ErrorContext, exc: BaseException) -> str:
    """Call a handler function and turn its answer into FAIL or LOG_AND_CONTINUE.

    A handler that raises, or answers anything but "continue" / "fail", fails the record
    with an error that says so (the record is never skipped by accident)."""
    from streamz_kit.errors import StreamsProcessingError

    where = f"{context.topic}-{context.partition}@{context.offset}"
    try:
        answer = handler(context, exc)
    except Exception as handler_exc:
        raise StreamsProcessingError(
            f"The {context.kind} error handler raised {type(handler_exc).__name__}: "
            f"{handler_exc} while handling the record at {where} (operator "
            f"{context.operator}); fix the handler so it returns 'continue' or 'fail'.",
            node=context.operator,
            topic=context.topic,
            partition=context.partition,
            offset=context.offset,
        ) from handler_exc
    normal = answer.lower() if isinstance(answer, str) else answer
    if normal == CONTINUE:
        return LOG_AND_CONTINUE
    if normal == FAIL:
        return FAIL
    raise StreamsProcessingError(
        f"The {context.kind} error handler returned {answer!r} for the record at {where}; "
        "it must return 'continue' or 'fail'.",
        node=context.operator,
        topic=context.topic,
        partition=context.partition,
        offset=context.offset,
    ) from exc
