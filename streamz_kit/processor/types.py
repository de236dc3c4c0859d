"""The shapes that travel between nodes, in a module of their own so that the node base,
the task context and the record cache can all use them without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from streamz_kit.processor.api import Headers

__all__ = ["Change", "Forward", "Headers"]

Forward = Callable[[Any, Any, int, Headers], None]


class Change(NamedTuple):
    """What a KTable node forwards: the key's new value and the value it replaced."""

    new: Any
    old: Any
