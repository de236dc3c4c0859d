"""A read-only view over one store's instances in every local task (one per partition)."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any

from streamz_kit.state.views import read_only_view


class CompositeView:
    def __init__(self, name: str, stores: list[Any]) -> None:
        self.name = name
        self._views: list[Any] = [read_only_view(s) for s in stores]
        self._stores = stores

    def get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        """The key's value; versioned stores also take `as_of=` (ms)."""
        for view in self._views:
            value = view.get(key, *args, **kwargs)
            if value is not None:
                return value
        return None

    def get_versioned(self, key: Any, as_of: int | None = None) -> Any:
        """VersionedRecord(value, timestamp, valid_to) of a versioned store, or None."""
        for view in self._views:
            record = view.get_versioned(key, as_of)
            if record is not None:
                return record
        return None

    def _merged(self, iters: list[Iterator[tuple[Any, Any]]]) -> Iterator[tuple[Any, Any]]:
        # Each task's store is ordered by serialized key; merge on the serialized key.
        if not self._stores:
            return
        serde = self._stores[0].key_serde
        keyed = [((serde.serialize(self.name, k), k, v) for k, v in it) for it in iters]
        for _, k, v in heapq.merge(*keyed, key=lambda t: t[0]):
            yield k, v

    def range(self, lo: Any, hi: Any) -> Iterator[tuple[Any, Any]]:
        return self._merged([v.range(lo, hi) for v in self._views])

    def all(self) -> Iterator[tuple[Any, Any]]:
        return self._merged([v.all() for v in self._views])

    def approximate_num_entries(self) -> int:
        return sum(v.approximate_num_entries() for v in self._views)

    def fetch(self, key: Any, *args: Any) -> Any:
        results: list[Any] = []
        for view in self._views:
            got = view.fetch(key, *args)
            if isinstance(got, list):
                results.extend(got)
            elif got is not None:
                return got
        return results if results or args else None

    def fetch_all(self, *args: Any) -> list[Any]:
        out: list[Any] = []
        for view in self._views:
            out.extend(view.fetch_all(*args))
        return out

    def backward_fetch(self, key: Any, t_from: int, t_to: int) -> list[Any]:
        """A window store's (start, value) for `key`, newest first (one task holds a key)."""
        out: list[Any] = []
        for view in self._views:
            out.extend(view.backward_fetch(key, t_from, t_to))
        return out

    def backward_fetch_all(self, t_from: int, t_to: int) -> list[Any]:
        """`fetch_all` of every local task, in reverse order."""
        return self.fetch_all(t_from, t_to)[::-1]
