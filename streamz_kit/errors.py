"""One error hierarchy under `StreamzError`, so callers can catch everything of ours at once.

Every message is a sentence that says what went wrong and what to do next.
"""

from __future__ import annotations


class StreamzError(Exception):
    """Root of every error streamz_kit raises on purpose."""


class IllegalStateError(StreamzError):
    """An object was asked for a lifecycle transition its state does not allow."""


class TopologyError(StreamzError):
    """The topology cannot be built as written (DSL misuse found at build time)."""


class ConfigError(StreamzError):
    """A setting is missing, malformed or contradicts another."""


class SerializationError(StreamzError):
    """A serde could not turn an object into bytes or bytes into an object."""


class StreamsProcessingError(StreamzError):
    """A record could not be processed; names the operator and the record's coordinates."""

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.node = node
        self.topic = topic
        self.partition = partition
        self.offset = offset


class DeserializationError(StreamsProcessingError):
    """A source could not deserialize a record's key or value."""


class UserCodeError(StreamzError):
    """A user callback raised; carries the operator name until the task adds coordinates."""

    def __init__(self, node: str, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause} (in operator {node})")
        self.node = node
        self.cause = cause


class ProductionError(UserCodeError):
    """A sink could not serialize or write a record (wrong type, too large)."""


class StateStoreError(StreamzError):
    """A state store is missing, closed, corrupt or cannot be written."""


class InvalidStateStoreError(StateStoreError):
    """A store was queried while it is not ready (closed, or still restoring)."""


class BrokerError(StreamzError):
    """The broker refused an operation or cannot be reached."""


class BrokerLockedError(BrokerError):
    """Another worker of the same application already holds the embedded log."""


class UnknownTopicError(BrokerError):
    """A topic the application needs does not exist."""


class ProducerFencedError(BrokerError):
    """A newer producer with the same transactional id took over; this task must close."""


class TaskMigratedError(StreamzError):
    """The task moved to another worker during processing; it must be closed without commit."""
