"""What only the RocksDB store does: persist, recover from corruption, lock, options."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from rocksdict import Options

from streamz_kit.errors import ConfigError, StateStoreError
from streamz_kit.state.rocksdb import OFFSET_KEY, RocksDBBytesStore, RocksDBOptions


def test_reopen_finds_data_and_offset(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.write_batch([(b"a", b"1"), (b"b", b"2")], 11)
    store.write_batch([(b"a", None)], 12)
    store.close()
    again = RocksDBBytesStore("s", tmp_path / "s")
    try:
        assert again.changelog_offset() == 12
        assert list(again.all()) == [(b"b", b"2")]
    finally:
        again.close()


def test_offset_never_collides_with_user_keys(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.write_batch([(OFFSET_KEY, b"user data")], 3)
    assert store.get(OFFSET_KEY) == b"user data"
    assert list(store.all()) == [(OFFSET_KEY, b"user data")]
    store.close()
    again = RocksDBBytesStore("s", tmp_path / "s")
    assert again.changelog_offset() == 3 and again.get(OFFSET_KEY) == b"user data"
    again.close()


def _corrupt(path: Path) -> None:
    for name in ("CURRENT",):
        (path / name).write_bytes(b"garbage-manifest-name\n")
    for manifest in path.glob("MANIFEST-*"):
        manifest.write_bytes(b"\x00\x01 not a manifest" * 10)


def test_corrupt_store_is_wiped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "s"
    store = RocksDBBytesStore("s", path)
    store.write_batch([(b"a", b"1")], 9)
    store.close()
    _corrupt(path)
    with caplog.at_level(logging.WARNING, logger="streamz_kit.state.rocksdb"):
        again = RocksDBBytesStore("s", path)
    try:
        assert list(again.all()) == []
        assert again.changelog_offset() is None  # the runtime restores from zero
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(str(path) in w and "wiping" in w for w in warnings), warnings
        again.write_batch([(b"new", b"1")], 1)
        assert again.get(b"new") == b"1"
    finally:
        again.close()


def test_store_locked_by_another_opener_is_an_error_not_a_wipe(tmp_path: Path) -> None:
    first = RocksDBBytesStore("s", tmp_path / "s")
    first.write_batch([(b"keep", b"me")], 1)
    try:
        with pytest.raises(StateStoreError, match="locked"):
            RocksDBBytesStore("s", tmp_path / "s")
        assert first.get(b"keep") == b"me"
    finally:
        first.close()


def test_files_are_owner_only(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.write_batch([(b"a", b"1")], 1)
    store.close()
    path = tmp_path / "s"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    files = [p for p in path.iterdir() if p.is_file()]
    assert files
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_wipe_destroys_and_recreates(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.write_batch([(b"a", b"1")], 4)
    store.wipe()
    assert store.get(b"a") is None and store.changelog_offset() is None
    store.write_batch([(b"b", b"2")], 1)
    store.close()
    again = RocksDBBytesStore("s", tmp_path / "s")
    assert list(again.all()) == [(b"b", b"2")] and again.changelog_offset() == 1
    again.close()


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_options_and_configure_hook(tmp_path: Path, compression: str) -> None:
    seen: list[Options] = []
    opts = RocksDBOptions(
        block_cache_bytes=1 << 20,
        write_buffer_bytes=1 << 20,
        compression=compression,
        configure=seen.append,
    )
    store = RocksDBBytesStore("s", tmp_path / "s", opts)
    store.write_batch([(b"k" * 10, b"v" * 1000)], 1)
    assert store.get(b"k" * 10) == b"v" * 1000
    store.close()
    assert len(seen) == 1


def test_unknown_compression_says_what_to_use(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="zstd"):
        RocksDBBytesStore("s", tmp_path / "s", RocksDBOptions(compression="brotli"))


def test_closed_store_refuses_reads(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StateStoreError, match="closed"):
        store.get(b"a")


def test_close_ends_open_scans_so_the_store_can_reopen(tmp_path: Path) -> None:
    store = RocksDBBytesStore("s", tmp_path / "s")
    store.write_batch([(b"a", b"1"), (b"b", b"2")], 1)
    scans = [store.all(), store.range(b"a", b"b"), store.range(b"a", None, reverse=True)]
    for scan in scans:
        next(scan)
    store.close()  # a task closing on rebalance while a scan is still open
    again = RocksDBBytesStore("s", tmp_path / "s")
    try:
        assert list(again.all()) == [(b"a", b"1"), (b"b", b"2")]
        assert all(list(scan) == [] for scan in scans)
    finally:
        again.close()


def _memory(store: RocksDBBytesStore) -> tuple[int, int]:
    db = store.db
    return (
        db.property_int_value("rocksdb.block-cache-capacity") or 0,
        db.property_int_value("rocksdb.block-cache-usage") or 0,
    )


def test_stores_with_the_same_options_share_one_bounded_cache(tmp_path: Path) -> None:
    """RocksDB memory is bounded per process, not per store: stores opened with one options
    object share one block cache, and their memtables are charged to it (so a write to one
    store shows in the cache every other store sees); other options get their own cache."""
    opts = RocksDBOptions(block_cache_bytes=8 << 20)
    a = RocksDBBytesStore("a", tmp_path / "a", opts)
    b = RocksDBBytesStore("b", tmp_path / "b", opts)
    other = RocksDBBytesStore("c", tmp_path / "c", RocksDBOptions(block_cache_bytes=4 << 20))
    try:
        before = _memory(b)
        assert before[0] == 8 << 20 and _memory(other)[0] == 4 << 20
        other_before = _memory(other)
        a.write_batch([(b"k%d" % i, b"v" * 1000) for i in range(3000)], 1)
        capacity, usage = _memory(b)  # b was not written: the memtable is a's
        assert capacity == 8 << 20 and usage >= before[1] + 2_000_000
        assert _memory(a) == (capacity, usage)
        assert _memory(other) == other_before
    finally:
        for store in (a, b, other):
            store.close()


def test_memtables_cannot_have_more_than_the_cache() -> None:
    with pytest.raises(ConfigError, match="memtable_bytes"):
        RocksDBOptions(block_cache_bytes=1 << 20, memtable_bytes=2 << 20).to_options()
