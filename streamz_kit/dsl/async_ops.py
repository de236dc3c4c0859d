"""The DSL side of the async operators: checks the arguments and builds the node factory
(the runtime node and its contract are in processor/async_ops.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Protocol, Self, TypeVar

from streamz_kit.errors import TopologyError
from streamz_kit.processor.async_ops import AsyncValuesNode

__all__ = ["PREFIXES", "add_async", "async_node_factory"]

PREFIXES = {
    "map": "KSTREAM-MAPVALUES-ASYNC",
    "flat_map": "KSTREAM-FLATMAPVALUES-ASYNC",
    "foreach": "KSTREAM-FOREACH-ASYNC",
}
OPERATORS = {
    "map": "map_values_async",
    "flat_map": "flat_map_values_async",
    "foreach": "foreach_async",
}


class _Stream(Protocol):
    def _add(
        self,
        prefix: str,
        make: Callable[[str], Any],
        *,
        name: str | None = ...,
        value_serde: Any = ...,
    ) -> Self: ...


S = TypeVar("S", bound=_Stream)


def add_async(
    stream: S,
    mode: str,
    fn: Any,
    name: str | None,
    with_key: bool,
    max_in_flight: int,
    timeout: float | None,
    retries: int,
    backoff: float,
) -> S:
    """Add one async operator's node below `stream` (a KStream, typed structurally so this module
    needs nothing from the grammar); the new stream's values are the calls' results, so it
    has no value serde yet."""
    make = async_node_factory(
        OPERATORS[mode],
        mode,
        fn,
        with_key=with_key,
        max_in_flight=max_in_flight,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
    )
    return stream._add(PREFIXES[mode], make, name=name, value_serde=None)


def async_node_factory(
    what: str,
    mode: str,
    fn: Any,
    *,
    with_key: bool,
    max_in_flight: int,
    timeout: float | None,
    retries: int,
    backoff: float,
) -> Callable[[str], AsyncValuesNode]:
    """Validate an async operator's arguments (a wrong one fails when the topology is
    built, not at the first record) and return its node factory."""
    if not callable(fn):
        raise TopologyError(f"{what} needs an async function, but got {type(fn).__name__}.")
    target = getattr(fn, "__call__", fn)  # noqa: B004 - instances with async __call__
    if not (inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target)):
        raise TopologyError(
            f"{what} needs an `async def` function (it is awaited per record), but "
            f"{getattr(fn, '__name__', fn)!r} is not one. Use map_values/foreach for plain "
            "functions."
        )
    if not isinstance(max_in_flight, int) or max_in_flight < 1:
        raise TopologyError(f"{what}: max_in_flight must be an int >= 1, not {max_in_flight!r}.")
    if timeout is not None and not timeout > 0:
        raise TopologyError(f"{what}: timeout must be None or > 0 seconds, not {timeout!r}.")
    if not isinstance(retries, int) or retries < 0:
        raise TopologyError(f"{what}: retries must be an int >= 0, not {retries!r}.")
    if backoff < 0:
        raise TopologyError(f"{what}: backoff must be >= 0 seconds, not {backoff!r}.")

    def make(name: str) -> AsyncValuesNode:
        return AsyncValuesNode(
            name,
            fn,
            mode,
            with_key=with_key,
            max_in_flight=max_in_flight,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    return make
