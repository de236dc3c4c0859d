"""Running a user's `Processor` (the Processor API) inside a task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from streamz_kit.errors import StreamzError, TopologyError
from streamz_kit.processor.api import (
    Cancellable,
    Headers,
    Processor,
    ProcessorContext,
    PunctuationType,
    Record,
)
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Node
from streamz_kit.windows import to_millis


class _Context(ProcessorContext):
    """The context one user processor sees: its node's children, its task's context."""

    def __init__(self, node: UserProcessorNode, context: TaskContext) -> None:
        self._node = node
        self._tc = context

    def forward(self, record: Record[Any, Any], child_name: str | None = None) -> None:
        if child_name is None:
            self._node.forward(record.key, record.value, record.timestamp, record.headers)
            return
        for child in self._node.children:
            if child.name == child_name:
                child.process(record.key, record.value, record.timestamp, record.headers)
                return
        raise TopologyError(
            f"Processor {self._node.name} has no child named {child_name!r}; its children "
            f"are {[c.name for c in self._node.children]}."
        )

    def get_state_store(self, name: str) -> Any:
        if name not in self._node.store_names:
            raise TopologyError(
                f"Processor {self._node.name} asked for store {name!r} but is not connected "
                f"to it; pass stores=[{name!r}] to process()."
            )
        return self._tc.get_store(name)

    def schedule(
        self,
        interval: timedelta | int,
        punctuation_type: PunctuationType,
        callback: Callable[[int], None],
    ) -> Cancellable:
        interval_ms = to_millis(interval, "punctuation interval")
        if interval_ms < 1:
            raise TopologyError("Punctuation interval must be at least 1 ms.")
        node = self._node

        def guarded(timestamp: int) -> None:
            try:
                callback(timestamp)
            except StreamzError:
                raise
            except Exception as exc:
                raise node.fail(exc) from exc

        return self._tc.schedule(interval_ms, punctuation_type, guarded, node)

    @property
    def task_id(self) -> str:
        return self._tc.task_id

    @property
    def application_id(self) -> str:
        return self._tc.application_id

    @property
    def topic(self) -> str | None:
        return self._tc.current.topic

    @property
    def partition(self) -> int | None:
        return self._tc.current.partition

    @property
    def offset(self) -> int | None:
        return self._tc.current.offset

    @property
    def timestamp(self) -> int:
        return self._tc.current.timestamp

    @property
    def headers(self) -> Headers:
        return self._tc.current.headers

    @property
    def stream_time(self) -> int:
        return self._tc.stream_time

    @property
    def wall_clock_time(self) -> int:
        return self._tc.wall_clock_ms()


class UserProcessorNode(Node):
    def __init__(
        self, name: str, factory: Callable[[], Processor[Any, Any]], store_names: list[str]
    ) -> None:
        super().__init__(name)
        self.factory = factory
        self.store_names = store_names
        self.processor: Processor[Any, Any] | None = None

    def init(self, context: TaskContext) -> None:
        super().init(context)
        try:
            processor = self.factory()
        except Exception as exc:
            raise self.fail(exc) from exc
        if not hasattr(processor, "process"):
            raise TopologyError(
                f"process() needs a factory returning a Processor, but {self.factory!r} "
                f"returned {type(processor).__name__}. Pass the class (or a function that "
                "returns a new instance), not an instance."
            )
        self.processor = processor
        try:
            processor.init(_Context(self, context))
        except StreamzError:
            raise
        except Exception as exc:
            raise self.fail(exc) from exc

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            self.processor.process(Record(key, value, timestamp, headers))  # type: ignore[union-attr]
        except StreamzError:
            raise
        except Exception as exc:
            raise self.fail(exc) from exc

    def close(self) -> None:
        if self.processor is not None:
            self.processor.close()
