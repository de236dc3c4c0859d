"""Nodes for the stateless DSL operations: one small class each, no dispatch on kind."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from streamz_kit.errors import UserCodeError
from streamz_kit.processor.node import Forward, Headers, Node, fan_out


class FilterNode(Node):
    def __init__(self, name: str, predicate: Callable[[Any, Any], bool], negate: bool) -> None:
        super().__init__(name)
        self.predicate = predicate
        self.negate = negate

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            keep = bool(self.predicate(key, value))
        except Exception as exc:
            raise self.fail(exc) from exc
        if keep is not self.negate:
            self.forward(key, value, timestamp, headers)


class MapNode(Node):
    """map: the callback returns a (key, value) pair."""

    def __init__(self, name: str, mapper: Callable[[Any, Any], tuple[Any, Any]]) -> None:
        super().__init__(name)
        self.mapper = mapper

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            pair = self.mapper(key, value)
        except Exception as exc:
            raise self.fail(exc) from exc
        if (type(pair) is not tuple or len(pair) != 2) and not _is_pair(pair):
            raise self.fail(
                TypeError(
                    f"map's function must return a (key, value) pair, but it returned "
                    f"{pair!r:.80}. Return a 2-tuple, or use map_values to change the "
                    "value only."
                )
            )
        self.forward(pair[0], pair[1], timestamp, headers)


def _is_pair(obj: Any) -> bool:
    return isinstance(obj, (tuple, list)) and len(obj) == 2


class MapValuesNode(Node):
    def __init__(self, name: str, mapper: Callable[..., Any], with_key: bool) -> None:
        super().__init__(name)
        self.mapper = mapper
        self.with_key = with_key

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            new_value = self.mapper(key, value) if self.with_key else self.mapper(value)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(key, new_value, timestamp, headers)


class SelectKeyNode(Node):
    def __init__(self, name: str, key_fn: Callable[[Any, Any], Any]) -> None:
        super().__init__(name)
        self.key_fn = key_fn

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            new_key = self.key_fn(key, value)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(new_key, value, timestamp, headers)


class FlatMapNode(Node):
    """flat_map: the callback returns an iterable of (key, value) pairs."""

    def __init__(self, name: str, mapper: Callable[[Any, Any], Iterable[tuple[Any, Any]]]) -> None:
        super().__init__(name)
        self.mapper = mapper

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            pairs = list(self.mapper(key, value) or ())
            for pair in pairs:
                if not _is_pair(pair):
                    raise TypeError(
                        f"flat_map's function must yield (key, value) pairs, but it yielded "
                        f"{pair!r:.80}. Yield 2-tuples, or use flat_map_values."
                    )
        except Exception as exc:
            raise self.fail(exc) from exc
        forward = self.forward
        for new_key, new_value in pairs:
            forward(new_key, new_value, timestamp, headers)


class FlatMapValuesNode(Node):
    def __init__(self, name: str, mapper: Callable[..., Iterable[Any]], with_key: bool) -> None:
        super().__init__(name)
        self.mapper = mapper
        self.with_key = with_key

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            values = self.mapper(key, value) if self.with_key else self.mapper(value)
            values = list(values or ())
        except Exception as exc:
            raise self.fail(exc) from exc
        forward = self.forward
        for new_value in values:
            forward(key, new_value, timestamp, headers)


class PeekNode(Node):
    """peek and foreach: call the action; peek forwards, foreach has no children."""

    def __init__(self, name: str, action: Callable[[Any, Any], Any]) -> None:
        super().__init__(name)
        self.action = action

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            self.action(key, value)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(key, value, timestamp, headers)


class PassThroughNode(Node):
    """merge and other purely structural nodes."""


class BranchNode(Node):
    """split(): a record goes to the first branch whose predicate holds (else the default)."""

    def __init__(
        self,
        name: str,
        predicates: list[Callable[[Any, Any], bool]],
        child_names: list[str],
        default_child: str | None,
    ) -> None:
        super().__init__(name)
        self.predicates = predicates
        self.child_names = child_names
        self.default_child = default_child
        self._routes: list[tuple[Callable[[Any, Any], bool], Forward]] = []
        self._default: Forward | None = None

    def wire(self) -> None:
        by_name = {child.name: child for child in self.children}
        self._routes = [
            (pred, by_name[name].process) for pred, name in zip(self.predicates, self.child_names)
        ]
        self._default = by_name[self.default_child].process if self.default_child else None
        self.forward = fan_out([child.process for child in self.children])

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        for predicate, target in self._routes:
            try:
                hit = predicate(key, value)
            except Exception as exc:
                raise self.fail(exc) from exc
            if hit:
                target(key, value, timestamp, headers)
                return
        if self._default is not None:
            self._default(key, value, timestamp, headers)


__all__ = [
    "BranchNode",
    "FilterNode",
    "FlatMapNode",
    "FlatMapValuesNode",
    "MapNode",
    "MapValuesNode",
    "PassThroughNode",
    "PeekNode",
    "SelectKeyNode",
    "UserCodeError",
]
