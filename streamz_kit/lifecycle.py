"""Lifecycles: a small state enum per kind of object, changed only through one guard.

Each owner (a task, the App) declares its allowed transitions as a table next to its enum;
`Lifecycle.to` is the only way to change the state, so an impossible transition (closing
twice, resuming a task that never ran) fails loudly where it happens instead of leaving
an object half in two states.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from typing import Generic, TypeVar

from streamz_kit.errors import IllegalStateError

__all__ = ["Lifecycle"]

S = TypeVar("S", bound=enum.Enum)


class Lifecycle(Generic[S]):
    """The current state of one object and the guard every change goes through."""

    __slots__ = ("_allowed", "_what", "state")

    def __init__(self, what: str, initial: S, allowed: Mapping[S, Collection[S]]) -> None:
        self._what = what
        self._allowed = allowed
        self.state = initial

    def to(self, target: S) -> S:
        """Move to `target` if the table allows it; returns the state left."""
        current = self.state
        if target not in self._allowed.get(current, ()):
            allowed = sorted(s.name for s in self._allowed.get(current, ()))
            raise IllegalStateError(
                f"{self._what} cannot go from {current.name} to {target.name} (from "
                f"{current.name} it may go to {', '.join(allowed) or 'nothing'}); this is a "
                "bug in the caller's sequencing, please report it with the log above."
            )
        self.state = target
        return current

    def is_(self, *states: S) -> bool:
        return self.state in states

    def __repr__(self) -> str:
        return f"<{self._what}: {self.state.name}>"
