"""Typed key-value stores, read-only views, builders and the restore helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamz_kit import serdes
from streamz_kit.errors import ConfigError, TopologyError
from streamz_kit.state.keyvalue import KeyValueStore, TimestampedKeyValueStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.restore import restore_store
from streamz_kit.state.rocksdb import RocksDBBytesStore
from streamz_kit.state.views import (
    ReadOnlyKeyValueView,
    ReadOnlySessionView,
    ReadOnlyWindowView,
    read_only_view,
)
from streamz_kit.stores import (
    StoreBuilder,
    key_value_store_builder,
    session_store_builder,
    timestamped_key_value_store_builder,
    window_store_builder,
)
from streamz_kit.transport.port import ConsumedRecord


@pytest.fixture(params=["memory", "rocksdb"])
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    store = key_value_store_builder(
        "counts", store=request.param, key_serde=serdes.STRING, value_serde=serdes.JSON
    ).build(tmp_path)
    yield store
    store.close()


def test_kv_get_put_delete(kv: KeyValueStore) -> None:
    assert kv.get("a") is None
    kv.put("a", {"n": 1})
    assert kv.get("a") == {"n": 1}
    assert kv.delete("a") == {"n": 1}
    assert kv.get("a") is None
    assert kv.delete("a") is None
    kv.put("b", 1)
    kv.put("b", None)  # a None value is a tombstone
    assert kv.get("b") is None


def test_kv_put_if_absent(kv: KeyValueStore) -> None:
    assert kv.put_if_absent("a", 1) is None
    assert kv.put_if_absent("a", 2) == 1
    assert kv.get("a") == 1


def test_kv_range_all_and_count_in_serialized_order(kv: KeyValueStore) -> None:
    kv.put_all([("c", 3), ("a", 1), ("b", 2), ("d", 4)])
    kv.flush_cache()  # the commit's first step
    kv.buffer.apply_pending(4)
    kv.put("bb", 22)
    assert list(kv.range("b", "c")) == [("b", 2), ("bb", 22), ("c", 3)]
    assert list(kv.range("b", "c", reverse=True)) == [("c", 3), ("bb", 22), ("b", 2)]
    assert list(kv.range(None, "a")) == [("a", 1)]
    assert [k for k, _ in kv.all()] == ["a", "b", "bb", "c", "d"]
    assert [k for k, _ in kv.reverse_all()] == ["d", "c", "bb", "b", "a"]
    if not kv.persistent:
        assert kv.approximate_num_entries() == 5


def test_timestamped_kv_stores_kafka_format(tmp_path: Path) -> None:
    store = timestamped_key_value_store_builder(
        "t", store="memory", key_serde=serdes.STRING, value_serde=serdes.LONG
    ).build(tmp_path)
    assert isinstance(store, TimestampedKeyValueStore)
    store.put("k", 7, 1_700_000_000_000)
    assert store.get("k") == 7
    assert store.get_with_timestamp("k") == (7, 1_700_000_000_000)
    assert store.get_with_timestamp("x") is None
    store.flush_cache()  # the commit's first step
    ((key, raw),) = store.buffer.pending_changes()
    assert key == b"k"
    assert raw == (1_700_000_000_000).to_bytes(8, "big") + (7).to_bytes(8, "big")
    assert list(store.all()) == [("k", 7)]
    assert list(store.all_with_timestamps()) == [("k", 7, 1_700_000_000_000)]
    store.put("k", None, 5)
    assert store.get("k") is None


def test_read_only_views(tmp_path: Path) -> None:
    kv = timestamped_key_value_store_builder(
        "t", store="memory", key_serde=serdes.STRING, value_serde=serdes.JSON
    ).build(None)
    kv.put("a", {"x": 1}, 5)  # type: ignore[call-arg]
    view = read_only_view(kv)
    assert isinstance(view, ReadOnlyKeyValueView)
    assert view.get("a") == {"x": 1} and view.get("zz") is None
    assert list(view.all()) == [("a", {"x": 1})] == list(view.range("a", "b"))
    assert view.approximate_num_entries() == 1
    assert not hasattr(view, "put")

    ws = window_store_builder(
        "w",
        store="memory",
        key_serde=serdes.STRING,
        value_serde=serdes.LONG,
        retention_ms=1000,
        window_size_ms=100,
    ).build(None)
    ws.put("k", 3, 100)  # type: ignore[call-arg]
    wview = read_only_view(ws)
    assert isinstance(wview, ReadOnlyWindowView)
    assert wview.fetch("k", 0, 200) == [(100, 3)]
    assert wview.fetch("k", 100) == 3
    assert len(wview.fetch_all(0, 200)) == 1

    ss = session_store_builder(
        "s", store="memory", key_serde=serdes.STRING, value_serde=serdes.LONG, retention_ms=1000
    ).build(None)
    ss.put("k", 0, 10, 4)  # type: ignore[call-arg]
    sview = read_only_view(ss)
    assert isinstance(sview, ReadOnlySessionView)
    assert [agg for _, agg in sview.fetch("k")] == [4]


def test_builder_fields_and_flags(tmp_path: Path) -> None:
    b = key_value_store_builder("s1", key_serde=serdes.STRING, value_serde=serdes.LONG)
    assert (b.name, b.kind, b.store, b.logging, b.caching) == ("s1", "kv", "rocksdb", True, True)
    quiet = b.with_logging_disabled().with_caching_disabled()
    assert (quiet.logging, quiet.caching) == (False, False) and b.logging
    store = quiet.build(tmp_path)
    try:
        assert store.name == "s1" and store.builder is quiet
        assert store.changelog_enabled is False and store.caching_enabled is False
        assert isinstance(store.buffer.inner, RocksDBBytesStore)
        assert store.buffer.inner.path == tmp_path / "s1"
        assert (tmp_path / "s1").is_dir()
    finally:
        store.close()
    mem = key_value_store_builder(
        "m", store="memory", key_serde=serdes.STRING, value_serde=serdes.LONG
    ).build(None)
    assert isinstance(mem.buffer.inner, InMemoryBytesStore) and mem.changelog_enabled


def test_window_builder_fields() -> None:
    from datetime import timedelta

    b = window_store_builder(
        "w",
        key_serde=serdes.STRING,
        value_serde=serdes.LONG,
        retention_ms=timedelta(minutes=5),
        window_size_ms=60_000,
        retain_duplicates=True,
    )
    assert (b.kind, b.retention_ms, b.window_size_ms, b.retain_duplicates) == (
        "window",
        300_000,
        60_000,
        True,
    )
    with pytest.raises(TopologyError, match="retention"):
        window_store_builder(
            "w", key_serde=None, value_serde=None, retention_ms=10, window_size_ms=100
        )


def test_builder_errors_say_what_to_do() -> None:
    with pytest.raises(TopologyError, match="letters"):
        key_value_store_builder("a/b", key_serde=serdes.STRING, value_serde=serdes.LONG)
    with pytest.raises(TopologyError, match="memory"):
        key_value_store_builder(
            "a", store="redis", key_serde=serdes.STRING, value_serde=serdes.LONG
        )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="state directory"):
        key_value_store_builder("a", key_serde=serdes.STRING, value_serde=serdes.LONG).build(None)
    with pytest.raises(ConfigError, match="serde"):
        StoreBuilder("a", "kv", "memory").build(None)
    filled = StoreBuilder("a", "kv", "memory").with_serdes(serdes.STRING, serdes.LONG)
    assert filled.build(None).get("x") is None


class _Counting(InMemoryBytesStore):
    def __init__(self) -> None:
        super().__init__("c")
        self.batches = 0

    def write_batch(self, changes: Any, changelog_offset: int | None) -> None:
        self.batches += 1
        super().write_batch(changes, changelog_offset)


def test_restore_store_one_batch_with_next_offset() -> None:
    from streamz_kit.state.buffered import BufferedStore

    inner = _Counting()
    buf = BufferedStore(inner)
    records = [
        ConsumedRecord("cl", 0, 10, 0, b"a", b"1"),
        ConsumedRecord("cl", 0, 11, 0, b"b", b"2"),
        ConsumedRecord("cl", 0, 12, 0, None, b"ignored"),
        ConsumedRecord("cl", 0, 13, 0, b"a", None),
    ]
    restore_store(buf, records)
    assert inner.batches == 1
    assert list(inner.all()) == [(b"b", b"2")]
    assert buf.changelog_offset() == 14
    restore_store(buf, [])
    assert inner.batches == 1
