"""Store interfaces shared by the runtime, the DSL processors and the store stack.

The stack, outermost first (only the outer layer is typed; every layer below handles bytes):

    typed view (serdes)  ->  write buffer (pending writes of this commit)  ->  BytesStore
                                                                              (RocksDB | memory)

Commit protocol (the runtime drives it, one method per step):
1. `pending_changes()` on each logged store: the changes since the last commit, one per key.
2. The runtime produces them to the store's changelog topic and commits the transaction
   (or flushes and commits offsets under at_least_once).
3. `apply_pending(changelog_next_offset)` writes the changes and the changelog position
   they reflect into the BytesStore in one atomic write batch (persistent stores a few
   commits later, several commits in one batch: "write-behind" in buffered.py).
Because the BytesStore is written only after the commit, it never holds uncommitted data,
so nothing needs wiping after a crash and the offset kept inside the store is the
checkpoint: restoration replays the changelog from there.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator

Change = tuple[bytes, bytes | None]  # (key, value); a None value deletes the key


class BytesStore(abc.ABC):
    """The innermost layer: an ordered map of bytes with an atomic batch write."""

    name: str
    persistent: bool = False

    @abc.abstractmethod
    def get(self, key: bytes) -> bytes | None: ...

    @abc.abstractmethod
    def range(
        self, lo: bytes | None, hi: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with lo <= key <= hi in key order (both bounds inclusive; None = open)."""

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        return self.range(None, None)

    @abc.abstractmethod
    def approximate_num_entries(self) -> int: ...

    @abc.abstractmethod
    def write_batch(self, changes: list[Change], changelog_offset: int | None) -> None:
        """Apply changes and record the changelog position they reflect, atomically."""

    @abc.abstractmethod
    def changelog_offset(self) -> int | None:
        """Next changelog offset to restore from, as of the last write_batch; None if never."""

    @abc.abstractmethod
    def wipe(self) -> None:
        """Delete every entry and the stored changelog offset (restore from zero next)."""

    @abc.abstractmethod
    def close(self) -> None: ...
