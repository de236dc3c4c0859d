"""Read-only views for interactive queries and the test driver.

They return plain values (timestamps stripped) and `None` for a missing key, and offer
no way to write, so a query can never bypass the commit protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from streamz_kit.state.keyvalue import KeyValueStore
from streamz_kit.state.session import SessionStore
from streamz_kit.state.versioned import VersionedKeyValueStore, VersionedRecord
from streamz_kit.state.window import WindowStore
from streamz_kit.windows import Window, Windowed

__all__ = [
    "ReadOnlyKeyValueView",
    "ReadOnlySessionView",
    "ReadOnlyVersionedView",
    "ReadOnlyWindowView",
    "read_only_view",
]


class ReadOnlyKeyValueView:
    def __init__(self, store: KeyValueStore) -> None:
        self._store = store
        self.name = store.name

    def get(self, key: Any) -> Any:
        return self._store.get(key)

    def range(self, lo: Any, hi: Any) -> Iterator[tuple[Any, Any]]:
        return self._store.range(lo, hi)

    def reverse_range(self, lo: Any, hi: Any) -> Iterator[tuple[Any, Any]]:
        return self._store.range(lo, hi, reverse=True)

    def all(self) -> Iterator[tuple[Any, Any]]:
        return self._store.all()

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def __repr__(self) -> str:
        return f"ReadOnlyKeyValueView({self.name!r})"


class ReadOnlyWindowView:
    def __init__(self, store: WindowStore) -> None:
        self._store = store
        self.name = store.name

    def fetch(self, key: Any, t_from: int, t_to: int | None = None) -> Any:
        """One window's value (`fetch(key, start)`) or [(start, value)] for starts in range."""
        if t_to is None:
            return self._store.fetch(key, t_from)
        return self._store.fetch(key, t_from, t_to)

    def fetch_all(self, t_from: int, t_to: int) -> list[tuple[Windowed[Any], Any]]:
        return self._store.fetch_all(t_from, t_to)

    def backward_fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]:
        """[(start, value)] for starts in [t_from, t_to], newest first."""
        return self._store.backward_fetch(key, t_from, t_to)

    def backward_fetch_all(self, t_from: int, t_to: int) -> list[tuple[Windowed[Any], Any]]:
        return self._store.backward_fetch_all(t_from, t_to)

    def all(self) -> list[tuple[Windowed[Any], Any]]:
        return self._store.all()

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def __repr__(self) -> str:
        return f"ReadOnlyWindowView({self.name!r})"


class ReadOnlySessionView:
    def __init__(self, store: SessionStore) -> None:
        self._store = store
        self.name = store.name

    def fetch(self, key: Any) -> list[tuple[Window, Any]]:
        return self._store.fetch(key)

    def find_sessions(
        self, key: Any, earliest_session_end: int, latest_session_start: int
    ) -> list[tuple[Window, Any]]:
        return self._store.find_sessions(key, earliest_session_end, latest_session_start)

    def fetch_session(self, key: Any, start: int, end: int) -> Any:
        return self._store.fetch_session(key, start, end)

    def fetch_all(self) -> list[tuple[Windowed[Any], Any]]:
        return self._store.fetch_all()

    def all(self) -> list[tuple[Windowed[Any], Any]]:
        return self._store.all()

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def __repr__(self) -> str:
        return f"ReadOnlySessionView({self.name!r})"


class ReadOnlyVersionedView:
    """A versioned table's store: the latest value, or the value as of a time (KIP-889)."""

    def __init__(self, store: VersionedKeyValueStore) -> None:
        self._store = store
        self.name = store.name

    def get(self, key: Any, as_of: int | None = None) -> Any:
        """The value valid at `as_of` (ms; default: the latest), None if none then."""
        return self._store.get(key, as_of)

    def get_versioned(self, key: Any, as_of: int | None = None) -> VersionedRecord | None:
        """VersionedRecord(value, timestamp, valid_to) valid at `as_of`, or None."""
        return self._store.get_versioned(key, as_of)

    def all(self) -> Iterator[tuple[Any, Any]]:
        return self._store.all()

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def __repr__(self) -> str:
        return f"ReadOnlyVersionedView({self.name!r})"


def read_only_view(
    store: KeyValueStore | WindowStore | SessionStore | VersionedKeyValueStore,
) -> ReadOnlyKeyValueView | ReadOnlyWindowView | ReadOnlySessionView | ReadOnlyVersionedView:
    """The right read-only view for any typed store."""
    if isinstance(store, VersionedKeyValueStore):
        return ReadOnlyVersionedView(store)
    if isinstance(store, WindowStore):
        return ReadOnlyWindowView(store)
    if isinstance(store, SessionStore):
        return ReadOnlySessionView(store)
    return ReadOnlyKeyValueView(store)
