"""The write buffer: this commit's changes, held in memory in front of a bytes store.

It is Kafka Streams' record cache and Quix's transaction in one: repeated updates of a
hot key collapse into one pending change, reads see the pending state, and the bytes
store is written only by `apply_pending` after the runtime has committed the changelog
(so the store never holds uncommitted data), in one atomic batch with the offset.

`pending_changes()` lists one change per key in the order each key was FIRST written
since the last commit (dict insertion order, so listing costs no sort).

Range reads merge the pending changes with the store in key order. The sorted index of
pending keys that this needs is built on the first range read and then maintained on
every write, so stores that never range-scan (most key-value aggregations) pay nothing.

**Write-behind of committed changes (persistent stores).** After a commit, `apply_pending`
moves the changes into `_applied` (committed, not yet in the bytes store) and writes them,
with the changelog offset they reflect, once WRITE_BEHIND_S passed since the last write or
WRITE_BEHIND_ENTRIES keys wait: an exactly_once worker commits every 100 ms, and a RocksDB
write batch per store and commit cost a sixth of its commit (~0.8 us a key) for state that
the next commit often overwrites. Correct after any crash for the same reason the per-commit
write was: the bytes store always holds the state of SOME committed changelog offset, kept
in the same atomic batch, and restoration replays the changelog from there (compaction keeps
every key's latest record, and drops old tombstones only after delete.retention.ms, a day).
Reads see `_applied` between the pending changes and the bytes store; a range read writes
it first (the merge stays two-way), as do restoration, wipe and close. Stores without a
changelog offset to write (unlogged ones) and in-memory stores write at once, as before.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from streamz_kit.state.api import BytesStore, Change

__all__ = ["WRITE_BEHIND_ENTRIES", "WRITE_BEHIND_S", "BufferedStore"]

_MISSING = object()

# Committed changes wait in memory at most this long, or until this many keys wait (~25 ms
# of RocksDB writes; ~6 MB): see "Write-behind" above. W3's hopping windows at 100 ms
# commits rewrite a window ~6 times within 10 s: 10,000 keys wrote every ~2 s, each window
# twice as often as at this size (W3 exactly_once commit CPU per changelog record, 200,000
# records: 8.7 us before write-behind, 7.7 us with it at this size).
WRITE_BEHIND_S = 10.0
WRITE_BEHIND_ENTRIES = 32_768


class BufferedStore:
    """Pending writes over a `BytesStore`; the layer the runtime's commit protocol drives."""

    __slots__ = (
        "_applied",
        "_applied_offset",
        "_pending",
        "_sorted",
        "_written_at",
        "generation",
        "inner",
        "name",
        "write_behind",
    )

    def __init__(self, inner: BytesStore) -> None:
        self.inner = inner
        self.name = inner.name
        self._pending: dict[bytes, bytes | None] = {}
        self._sorted: SortedList | None = None
        # Committed changes not yet written to `inner`, and the changelog offset they reach
        # (see "Write-behind" in the module docstring).
        self._applied: dict[bytes, bytes | None] = {}
        self._applied_offset: int | None = None
        self._written_at = time.monotonic()
        self.write_behind = inner.persistent
        # Bumped whenever the content changes behind the typed layer's back (restore,
        # wipe, discard), so layers that cache derived facts know to recompute them.
        self.generation = 0

    @property
    def persistent(self) -> bool:
        return self.inner.persistent

    # -- per-record path ---------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        value = self._pending.get(key, _MISSING)
        if value is _MISSING:
            value = self._applied.get(key, _MISSING)
            if value is _MISSING:
                return self.inner.get(key)
        return value  # type: ignore[return-value]

    def put(self, key: bytes, value: bytes | None) -> None:
        """Buffer a write; a None value deletes the key."""
        index = self._sorted
        if index is not None and key not in self._pending:
            index.add(key)
        self._pending[key] = value

    def put_many(self, changes: Iterable[Change]) -> None:
        """`put` of each (key, value) in order, in one dict update when no range read
        needs the sorted index (a commit's flush of an object cache)."""
        if self._sorted is None:
            self._pending.update(changes)
        else:
            for key, value in changes:
                self.put(key, value)

    def delete(self, key: bytes) -> None:
        self.put(key, None)

    def range(
        self, lo: bytes | None, hi: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Entries with lo <= key <= hi (None = open), pending changes applied, in key order."""
        if self._applied:
            self.write_applied()
        if not self._pending:
            return self.inner.range(lo, hi, reverse=reverse)
        index = self._sorted
        if index is None:
            index = self._sorted = SortedList(self._pending)
        # A snapshot of the pending keys in range, so writes during iteration are safe.
        keys = list(index.irange(lo, hi, reverse=reverse))
        if not keys:
            return self.inner.range(lo, hi, reverse=reverse)
        return self._merge(keys, self.inner.range(lo, hi, reverse=reverse), reverse)

    def _merge(
        self, keys: list[bytes], stored: Iterator[tuple[bytes, bytes]], reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        pending = self._pending
        pkeys = iter(keys)
        pkey = next(pkeys, None)
        for skey, svalue in stored:
            while pkey is not None and ((pkey > skey) if reverse else (pkey < skey)):
                pvalue = pending.get(pkey)
                if pvalue is not None:
                    yield pkey, pvalue
                pkey = next(pkeys, None)
            if pkey is not None and pkey == skey:
                pvalue = pending.get(pkey)
                if pvalue is not None:  # a pending delete hides the stored entry
                    yield pkey, pvalue
                pkey = next(pkeys, None)
            else:
                yield skey, svalue
        while pkey is not None:
            pvalue = pending.get(pkey)
            if pvalue is not None:
                yield pkey, pvalue
            pkey = next(pkeys, None)

    def all(self) -> Iterator[tuple[bytes, bytes]]:
        return self.range(None, None)

    def delete_range(self, lo: bytes, hi: bytes) -> int:
        """Delete every key with lo <= key < hi (pending or stored); returns how many.

        A window store drops an expired segment this way. Unlike `range`, it never builds
        the sorted index of pending keys: one pass over them costs less than an index that
        every later put of the commit interval would then have to maintain."""
        keys = dict.fromkeys(k for k in self._pending if lo <= k < hi)
        keys.update(dict.fromkeys(k for k in self._applied if lo <= k < hi))
        keys.update(dict.fromkeys(k for k, _ in self.inner.range(lo, hi) if k < hi))
        for key in keys:
            self.put(key, None)
        return len(keys)

    def approximate_num_entries(self) -> int:
        """The store's count adjusted for pending inserts and deletes: exact (for memory)
        while few changes are pending; past that, pending inserts are simply added, so
        metrics calling it every second never pay a lookup per pending key."""
        count = self.inner.approximate_num_entries()
        changes = {**self._applied, **self._pending} if self._applied else self._pending
        if len(changes) > 1000:
            return count + sum(1 for value in changes.values() if value is not None)
        inner_get = self.inner.get
        for key, value in changes.items():
            present = inner_get(key) is not None
            if value is None and present:
                count -= 1
            elif value is not None and not present:
                count += 1
        return max(count, 0)

    # -- commit protocol -----------------------------------------------------------------

    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def pending(self) -> Mapping[bytes, bytes | None]:
        """This commit's changes, one per key in first-write order (read-only view)."""
        return self._pending

    def pending_changes(self) -> list[Change]:
        """One change per key, in first-write order; call before the changelog is produced."""
        return list(self._pending.items())

    def apply_pending(self, changelog_next_offset: int | None) -> None:
        """The commit is durable: the pending changes and the changelog position they
        reflect go to the bytes store atomically, at once or (write-behind) soon."""
        pending = self._pending
        if self.write_behind and changelog_next_offset is not None and pending:
            if self._applied:
                self._applied.update(pending)
            else:
                self._applied = pending
            self._applied_offset = changelog_next_offset
            self._clear()
            if (
                len(self._applied) >= WRITE_BEHIND_ENTRIES
                or time.monotonic() - self._written_at >= WRITE_BEHIND_S
            ):
                self.write_applied()
            return
        if self._applied:
            self.write_applied()
        if pending or (
            changelog_next_offset is not None
            and changelog_next_offset != self.inner.changelog_offset()
        ):
            self.inner.write_batch(list(pending.items()), changelog_next_offset)
        self._clear()

    def write_applied(self) -> None:
        """Write the committed changes still held in memory, with their changelog offset,
        in one atomic batch (write-behind's write; also before any read or write that must
        see the bytes store whole)."""
        self._written_at = time.monotonic()
        if not self._applied:
            return
        applied, self._applied = self._applied, {}
        self.inner.write_batch(list(applied.items()), self._applied_offset)
        self._applied_offset = None

    def discard_pending(self) -> None:
        """Forget this commit's changes (the transaction aborted)."""
        self._clear()
        self.generation += 1

    def _clear(self) -> None:
        self._pending = {}
        # Drop the index rather than empty it: it is rebuilt only if this commit interval
        # range-reads again, so stores that range rarely (window expiry) do not pay a sorted
        # insert on every put from then on.
        self._sorted = None

    def restore_batch(self, changes: list[Change], next_offset: int) -> None:
        """Write changelog records straight into the store: restoration bypasses the buffer."""
        if self._applied:
            self.write_applied()
        self.inner.write_batch(changes, next_offset)
        self.generation += 1

    def changelog_offset(self) -> int | None:
        if self._applied:
            return self._applied_offset
        return self.inner.changelog_offset()

    def wipe(self) -> None:
        self._clear()
        self._applied = {}
        self._applied_offset = None
        self.inner.wipe()
        self.generation += 1

    def close(self) -> None:
        """Close the bytes store, committed changes written first (pending ones dropped)."""
        self._clear()
        if self._applied:
            self.write_applied()
        self.inner.close()

    def __repr__(self) -> str:
        return (
            f"BufferedStore({self.inner!r}, pending={len(self._pending)}, "
            f"applied={len(self._applied)})"
        )
