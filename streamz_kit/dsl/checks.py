"""The DSL's checks of user functions, made when the topology is built (not per record)."""

from __future__ import annotations

from typing import Any

from streamz_kit.errors import TopologyError

__all__ = ["check_callable", "check_function"]


def check_callable(fn: Any, what: str) -> None:
    """Refuse a non-function where a stream operation (`what`) needs one."""
    if not callable(fn):
        raise TopologyError(f"{what} needs a function, but got {type(fn).__name__} {fn!r:.60}.")


def check_function(fn: Any, what: str) -> None:
    """Refuse a non-function given as `what` (e.g. "joiner(left_value, right_value)")."""
    if not callable(fn):
        raise TopologyError(f"{what} must be a function, not {type(fn).__name__}.")
