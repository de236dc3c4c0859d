"""The in-memory bytes store: a sorted dict, for `store="memory"` and for tests.

It keeps the same contract as the RocksDB store (ordered keys, inclusive bounds, the
changelog offset written with the data) so one contract suite covers both.
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedDict

from streamz_kit.state.api import BytesStore, Change

__all__ = ["InMemoryBytesStore"]


class InMemoryBytesStore(BytesStore):
    """Ordered map of bytes; lost on close, so the runtime restores it from the changelog."""

    persistent = False

    def __init__(self, name: str) -> None:
        self.name = name
        self._data: SortedDict = SortedDict()
        self._offset: int | None = None
        self._open = True

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)  # type: ignore[no-any-return]

    def range(
        self, lo: bytes | None, hi: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        data = self._data
        if lo is None and hi is None:
            keys = reversed(data.keys()) if reverse else iter(data.keys())
        else:
            keys = data.irange(lo, hi, inclusive=(True, True), reverse=reverse)
        return ((k, data[k]) for k in keys)

    def approximate_num_entries(self) -> int:
        return len(self._data)

    def write_batch(self, changes: list[Change], changelog_offset: int | None) -> None:
        data = self._data
        if len(changes) < 64:
            for key, value in changes:
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
        else:
            # Last change per key wins; then one bulk update, which SortedDict does by
            # re-sorting once instead of inserting key by key.
            final = dict(changes)
            puts = {k: v for k, v in final.items() if v is not None}
            for key, value in final.items():
                if value is None:
                    data.pop(key, None)
            data.update(puts)
        if changelog_offset is not None:
            self._offset = changelog_offset

    def changelog_offset(self) -> int | None:
        return self._offset

    def wipe(self) -> None:
        self._data.clear()
        self._offset = None

    def close(self) -> None:
        self._open = False

    def __repr__(self) -> str:
        return f"InMemoryBytesStore({self.name!r}, entries={len(self._data)})"
