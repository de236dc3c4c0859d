"""The Processor API: what user processors implement and the context they are handed.

Kafka Streams' shape (`init(context)`, `process(record)`, `close()`), in Python's idiom.
Records are immutable; `with_*` methods return modified copies, so a processor can never
change a record that another branch of the topology is still looking at.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")

Headers = tuple[tuple[str, bytes], ...]


class PunctuationType(enum.Enum):
    """What drives a scheduled punctuation: the task's stream time or the wall clock."""

    STREAM_TIME = "stream_time"
    WALL_CLOCK_TIME = "wall_clock_time"


class Record(Generic[K, V]):
    """A key, a value, an event timestamp in ms, and headers."""

    __slots__ = ("headers", "key", "timestamp", "value")

    def __init__(
        self, key: K, value: V, timestamp: int = 0, headers: Headers | None = None
    ) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers: Headers = headers or ()

    def with_key(self, key: Any) -> Record[Any, V]:
        return Record(key, self.value, self.timestamp, self.headers)

    def with_value(self, value: Any) -> Record[K, Any]:
        return Record(self.key, value, self.timestamp, self.headers)

    def with_timestamp(self, timestamp: int) -> Record[K, V]:
        return Record(self.key, self.value, timestamp, self.headers)

    def with_headers(self, headers: Headers) -> Record[K, V]:
        return Record(self.key, self.value, self.timestamp, tuple(headers))

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.key, self.value, self.timestamp, self.headers))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return (
            f"Record(key={self.key!r}, value={self.value!r}, timestamp={self.timestamp}, "
            f"headers={self.headers!r})"
        )


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class ProcessorContext(abc.ABC):
    """What a processor may ask of the task running it."""

    @abc.abstractmethod
    def forward(self, record: Record[Any, Any], child_name: str | None = None) -> None:
        """Send a record to every child processor (or to the named one)."""

    @abc.abstractmethod
    def get_state_store(self, name: str) -> Any:
        """A store connected to this processor (pass it in `process(..., stores=[...])`)."""

    @abc.abstractmethod
    def schedule(
        self,
        interval: timedelta | int,
        punctuation_type: PunctuationType,
        callback: Callable[[int], None],
    ) -> Cancellable:
        """Call `callback(timestamp)` every interval of stream time or wall-clock time."""

    @property
    @abc.abstractmethod
    def task_id(self) -> str: ...

    @property
    @abc.abstractmethod
    def application_id(self) -> str: ...

    @property
    @abc.abstractmethod
    def topic(self) -> str | None: ...

    @property
    @abc.abstractmethod
    def partition(self) -> int | None: ...

    @property
    @abc.abstractmethod
    def offset(self) -> int | None: ...

    @property
    @abc.abstractmethod
    def timestamp(self) -> int: ...

    @property
    @abc.abstractmethod
    def headers(self) -> Headers: ...

    @property
    @abc.abstractmethod
    def stream_time(self) -> int: ...

    @property
    @abc.abstractmethod
    def wall_clock_time(self) -> int: ...


class Processor(abc.ABC, Generic[K, V]):
    """Subclass and implement `process`; `init` keeps the context, `close` releases resources."""

    context: ProcessorContext

    def init(self, context: ProcessorContext) -> None:
        self.context = context

    @abc.abstractmethod
    def process(self, record: Record[K, V]) -> None:
        """Handle one record; call `self.context.forward(...)` to send results downstream."""

    def close(self) -> None:
        return None
