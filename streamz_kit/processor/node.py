"""The runtime form of a topology node: plain objects calling their children directly.

Per record, a node's `process(key, value, timestamp, headers)` runs its operation and calls
`self.forward(...)`, which is bound at wiring time to the single child's `process` (or to a
small fan-out loop), so there is no generic dispatch and no coroutine per record.
Nodes are created fresh for every task from the factories the compiler made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.errors import UserCodeError
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.types import Change, Forward, Headers

__all__ = ["Change", "Forward", "Headers", "Node", "NodeFactory", "fan_out"]


def _drop(key: Any, value: Any, timestamp: int, headers: Headers) -> None:
    return None


def fan_out(targets: list[Forward]) -> Forward:
    """One callable that calls every target, specialised for the common small counts."""
    if not targets:
        return _drop
    if len(targets) == 1:
        return targets[0]
    if len(targets) == 2:
        first, second = targets

        def forward_two(key: Any, value: Any, timestamp: int, headers: Headers) -> None:
            first(key, value, timestamp, headers)
            second(key, value, timestamp, headers)

        return forward_two
    frozen = tuple(targets)

    def forward_all(key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        for target in frozen:
            target(key, value, timestamp, headers)

    return forward_all


class Node:
    """Base of every runtime node. Subclasses override `process` and, if stateful, `init`."""

    kind = "Processor"

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: list[Node] = []
        self.forward: Forward = _drop
        self.emit: Forward = _drop  # table nodes: forward, or put into the record cache

    # Set by `init`: what the node may use of the task running it (processor/context.py).
    context: TaskContext

    def wire(self) -> None:
        """Bind `forward` once the children are known."""
        self.forward = fan_out([child.process for child in self.children])

    def init(self, context: TaskContext) -> None:
        """Called once per task before the first record: bind stores, emit and context here."""
        self.context = context

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        self.forward(key, value, timestamp, headers)

    def close(self) -> None:
        return None

    def fail(self, exc: BaseException) -> UserCodeError:
        """Wrap a user callback's exception with this operator's name (raise the result)."""
        return UserCodeError(self.name, exc)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


NodeFactory = Callable[[], Node]
