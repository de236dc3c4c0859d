"""The runtime form of a topology node: plain objects calling their children directly.

Per record, a node's `process(key, value, timestamp, headers)` runs its operation and calls
`self.forward(...)`, which is bound at wiring time to the single child's `process` (or to a
small fan-out loop), so there is no generic dispatch and no coroutine per record.
Nodes are created fresh for every task from the factories the compiler made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from streamz_kit.errors import UserCodeError

if TYPE_CHECKING:
    from streamz_kit.runtime.task import Task

Headers = tuple[tuple[str, bytes], ...]
Forward = Callable[[Any, Any, int, Headers], None]


class Change(NamedTuple):
    """What a KTable node forwards: the key's new value and the value it replaced."""

    new: Any
    old: Any


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
        self.task: Task | None = None

    def wire(self) -> None:
        """Bind `forward` once the children are known."""
        self.forward = fan_out([child.process for child in self.children])

    def init(self, task: "Task") -> None:
        self.task = task

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


class EmitCache:
    """Kafka Streams' record cache, downstream half: a table node's updates wait here until
    the commit (or until the cache is full), so a key updated many times between commits
    is forwarded once, with the latest value and the oldest old value.

    The store's write buffer does the same for the changelog; together they make a hot key
    cost one changelog record and one downstream record per commit.
    """

    __slots__ = ("entries", "limit", "forward", "puts", "hits")

    def __init__(self, forward: Forward, limit: int) -> None:
        self.entries: dict[Any, tuple[Change, int, Headers]] = {}
        self.limit = max(1, limit)
        self.forward = forward
        self.puts = 0
        self.hits = 0

    def put(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        self.puts += 1
        try:
            entry = self.entries.get(key)
        except TypeError:  # an unhashable key cannot be cached: forward it now
            self.forward(key, change, timestamp, headers)
            return
        if entry is not None:
            self.hits += 1
            change = Change(change.new, entry[0].old)
        self.entries[key] = (change, timestamp, headers)
        if len(self.entries) >= self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.entries:
            return
        entries = self.entries
        self.entries = {}
        forward = self.forward
        for key, (change, timestamp, headers) in entries.items():
            if change.new is None and change.old is None:
                continue  # deleting a key that never existed: nothing to tell (as Kafka)
            forward(key, change, timestamp, headers)

    def discard(self) -> None:
        self.entries = {}
