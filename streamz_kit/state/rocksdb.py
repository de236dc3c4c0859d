"""The persistent bytes store: RocksDB through rocksdict, in raw bytes mode.

The changelog offset lives in a separate column family of the same database and is
written in the same `WriteBatch` as the data, so the two can never disagree: after any
crash the store holds exactly the state of some committed changelog position.

A store that cannot be opened because its files are corrupt is wiped and opened empty,
with a warning; the runtime then restores it from its changelog from offset zero. A store
locked by another live process is never wiped: that is an error for the caller.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import cast

from rocksdict import (
    BlockBasedOptions,
    Cache,
    ColumnFamily,
    DBCompressionType,
    Options,
    Rdict,
    ReadOptions,
    WriteBatch,
    WriteBufferManager,
)

from streamz_kit.errors import ConfigError, StateStoreError
from streamz_kit.state.api import BytesStore, Change

__all__ = ["RocksDBBytesStore", "RocksDBOptions"]

log = logging.getLogger(__name__)

META_CF = "streamz_meta"
OFFSET_KEY = b"changelog_offset"
_OFFSET = struct.Struct(">q")
_Items = Iterator[tuple[bytes, bytes]]

_COMPRESSION: dict[str, Callable[[], DBCompressionType]] = {
    "none": DBCompressionType.none,
    "lz4": DBCompressionType.lz4,
    "lz4hc": DBCompressionType.lz4hc,
    "zstd": DBCompressionType.zstd,
    "snappy": DBCompressionType.snappy,
    "zlib": DBCompressionType.zlib,
    "bz2": DBCompressionType.bz2,
}


@dataclass(frozen=True)
class RocksDBOptions:
    """Tuning for every RocksDB store of an application; `configure` may set anything else.

    Memory is bounded per process, not per store (Kafka Streams' BoundedMemoryRocksDBConfig):
    every store opened with the same options object (the App's, or the default one) shares
    ONE block cache of `block_cache_bytes`, and their memtables are charged to that cache by
    one write buffer manager that flushes once they hold `memtable_bytes` together (default:
    half the cache); index and filter blocks live in the cache too. A worker's RocksDB
    memory then stays near `block_cache_bytes` however many tasks and stores it holds (the
    soak's worker has 36) and however large the state grows. Per-store caches and memtables
    (the old setting) grew with both, slowly, since a store's memtable only flushes once it
    holds `write_buffer_bytes`: 36 stores x (16 MiB cache + 2 x 16 MiB memtables) is
    1.7 GiB before anything is bounded (bench/soak.py, docs/benchmarks.md).
    """

    block_cache_bytes: int = 64 * 1024 * 1024
    write_buffer_bytes: int = 16 * 1024 * 1024  # one memtable's size, before a flush
    memtable_bytes: int | None = None  # all memtables together (default: half the cache)
    compression: str = "lz4"
    configure: Callable[[Options], None] | None = None

    def to_options(self) -> Options:
        """Build rocksdict Options in raw mode; raw mode is not negotiable (keys are bytes)."""
        try:
            compression = _COMPRESSION[self.compression]()
        except KeyError:
            raise ConfigError(
                f"Unknown RocksDB compression {self.compression!r}; use one of "
                f"{', '.join(sorted(_COMPRESSION))}."
            ) from None
        if (
            self.memtable_bytes is not None
            and not 0 < self.memtable_bytes <= self.block_cache_bytes
        ):
            raise ConfigError(
                f"RocksDBOptions: memtable_bytes ({self.memtable_bytes}) must be positive and "
                f"at most block_cache_bytes ({self.block_cache_bytes}): memtables are charged "
                "to the block cache."
            )
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.create_missing_column_families(True)
        opts.set_compression_type(compression)
        opts.set_write_buffer_size(self.write_buffer_bytes)
        # A memtable's arena grows in blocks (default: 1 MiB), charged to the write buffer
        # manager as soon as allocated: 36 stores' first blocks alone would pass the budget
        # and make every write flush. 256 KiB blocks keep the idle floor small.
        opts.set_arena_block_size(_ARENA_BLOCK)
        shared = self.shared()
        opts.set_write_buffer_manager(shared.write_buffers)
        opts.set_block_based_table_factory(shared.table_options())
        if self.configure is not None:
            self.configure(opts)
        return opts

    def column_family_options(self) -> Options:
        """Options of the small metadata column family: the same shared cache, and a small
        memtable (its default would be 64 MiB)."""
        opts = Options(raw_mode=True)
        opts.set_write_buffer_size(1024 * 1024)
        opts.set_block_based_table_factory(self.shared().table_options())
        return opts

    def shared(self) -> SharedMemory:
        """This process's cache and write buffer manager for this options object (the App
        holds one for all its stores; a forked worker makes its own)."""
        key = (id(self), os.getpid())
        found = _SHARED.get(key)
        if found is None:
            cache = Cache(self.block_cache_bytes)
            memtables = self.memtable_bytes or self.block_cache_bytes // 2
            manager = WriteBufferManager.new_write_buffer_manager_with_cache(
                memtables, False, cache
            )
            found = _SHARED[key] = SharedMemory(cache, manager)
            # Gone with its options object (so a later object at the same id gets its own).
            weakref.finalize(self, _SHARED.pop, key, None)
        return found


@dataclass(frozen=True)
class SharedMemory:
    """The block cache and write buffer manager that the stores of one process share."""

    cache: Cache
    write_buffers: WriteBufferManager

    def table_options(self) -> BlockBasedOptions:
        table = BlockBasedOptions()
        table.set_block_cache(self.cache)
        # Index and filter blocks in the cache too (bounded with it), the top level pinned.
        table.set_cache_index_and_filter_blocks(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        return table


_SHARED: dict[tuple[int, int], SharedMemory] = {}
_ARENA_BLOCK = 256 * 1024
DEFAULT_OPTIONS = RocksDBOptions()  # what stores opened without options share


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and (
        "hold" in text or "resource temporarily" in text or "no locks" in text
    )


def _restrict(path: Path) -> None:
    """Owner-only: state may hold personal data."""
    os.chmod(path, 0o700)
    for entry in path.iterdir():
        try:
            os.chmod(entry, 0o700 if entry.is_dir() else 0o600)
        except FileNotFoundError:  # RocksDB may delete obsolete files concurrently
            pass


def _scan(
    items: Iterator[tuple[bytes, bytes]], read_opt: ReadOptions | None
) -> Iterator[tuple[bytes, bytes]]:
    """Iterate while holding `read_opt`: RocksDB keeps a pointer to its upper bound, and
    freeing the options mid-iteration silently corrupts the bound."""
    yield from items
    del read_opt


class RocksDBBytesStore(BytesStore):
    """One RocksDB database per store (and per task), at `path`."""

    persistent = True

    def __init__(self, name: str, path: Path, options: RocksDBOptions | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self._settings = options or DEFAULT_OPTIONS
        self._options = self._settings.to_options()
        self._cache = self._settings.shared().cache  # read by bench/memprobe.py
        self._db: Rdict | None = None
        self._meta: ColumnFamily | None = None
        # Open scans pin the database; close() ends them so the files can be reopened.
        self._scans: weakref.WeakSet[Iterator[tuple[bytes, bytes]]] = weakref.WeakSet()
        self._offset: int | None = None
        self._open_or_recover()

    # -- lifecycle -------------------------------------------------------------------

    def _open_or_recover(self) -> None:
        try:
            self._open()
        except Exception as exc:  # rocksdict raises bare Exception for RocksDB statuses
            if _is_lock_error(exc):
                raise StateStoreError(
                    f"State store {self.name!r} at {self.path} is locked by another process "
                    f"({exc}). Stop the other worker using this state directory, or give this "
                    "one its own state_dir."
                ) from exc
            log.warning(
                "State store %r at %s cannot be opened (%s); wiping it and restoring from "
                "its changelog from offset zero.",
                self.name,
                self.path,
                exc,
            )
            self._close_quietly()
            shutil.rmtree(self.path, ignore_errors=True)
            self._open()

    def _open(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        column_families = {META_CF: self._settings.column_family_options()}
        db = Rdict(str(self.path), self._options, column_families=column_families)
        try:
            meta = db.get_column_family(META_CF)
            try:
                raw = meta.get(OFFSET_KEY)
            finally:
                meta.close()
                del meta
            offset = None if raw is None else _OFFSET.unpack(raw)[0]
        except BaseException:
            db.close()
            raise
        self._db = db
        self._meta = db.get_column_family_handle(META_CF)
        self._offset = offset
        _restrict(self.path)

    def _close_quietly(self) -> None:
        self._meta = None
        if self._db is not None:
            try:
                self._db.close()
            except Exception as exc:  # noqa: BLE001 - must not hide the error being handled
                log.debug("closing half-open store %s failed: %s", self.path, exc)
            self._db = None

    def close(self) -> None:
        if self._db is None:
            return
        for scan in list(self._scans):
            scan.close()  # type: ignore[attr-defined]
        self._scans.clear()
        self._meta = None
        self._db.close()
        self._db = None
        if self.path.exists():
            _restrict(self.path)

    def wipe(self) -> None:
        self.close()
        Rdict.destroy(str(self.path), Options(raw_mode=True))
        shutil.rmtree(self.path, ignore_errors=True)
        self._offset = None
        self._open()

    @property
    def db(self) -> Rdict:
        if self._db is None:
            raise StateStoreError(
                f"State store {self.name!r} is closed; it cannot be read or written until "
                "its task is reopened."
            )
        return self._db

    # -- reads -----------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        return cast("bytes | None", self.db.get(key))

    def range(
        self, lo: bytes | None, hi: bytes | None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        db = self.db
        read_opt: ReadOptions | None = None
        items: _Items
        if reverse:
            items = cast(_Items, db.items(backwards=True, from_key=hi))
            if lo is not None:
                items = takewhile(lambda kv: kv[0] >= lo, items)
        elif hi is None:
            items = cast(_Items, db.items(from_key=lo))
        else:
            read_opt = ReadOptions()
            read_opt.set_iterate_upper_bound(hi + b"\x00")  # smallest key above hi
            items = cast(_Items, db.items(from_key=lo, read_opt=read_opt))
        scan = _scan(items, read_opt)
        self._scans.add(scan)
        return scan

    def approximate_num_entries(self) -> int:
        return self.db.property_int_value("rocksdb.estimate-num-keys") or 0

    # -- writes ----------------------------------------------------------------------

    def write_batch(self, changes: list[Change], changelog_offset: int | None) -> None:
        db = self.db
        batch = WriteBatch(raw_mode=True)
        put = batch.put
        delete = batch.delete
        for key, value in changes:
            if value is None:
                delete(key)
            else:
                put(key, value)
        if changelog_offset is not None:
            put(OFFSET_KEY, _OFFSET.pack(changelog_offset), self._meta)
        db.write(batch)
        if changelog_offset is not None:
            self._offset = changelog_offset

    def changelog_offset(self) -> int | None:
        return self._offset

    def __repr__(self) -> str:
        return f"RocksDBBytesStore({self.name!r}, {str(self.path)!r})"
