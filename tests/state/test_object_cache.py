"""The object cache of the window store (state/object_cache.py): values that cannot be
aliased live as objects until the commit, and the commit protocol sees exactly what the
serialized path would have written."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamz_kit import serdes
from streamz_kit.errors import SerializationError
from streamz_kit.state.keyvalue import TimestampedKeyValueStore
from streamz_kit.state.manager import StateManager
from streamz_kit.state.object_cache import cache_check
from streamz_kit.state.window import WindowStore
from streamz_kit.stores import window_store_builder
from streamz_kit.transport.port import TopicPartition

MINUTE = 60_000


def _window_store(tmp: Path, name: str, value_serde: object = serdes.LONG) -> WindowStore:
    store = window_store_builder(
        name,
        store="rocksdb",
        key_serde=serdes.STRING,
        value_serde=value_serde,
        retention_ms=10 * MINUTE,
        window_size_ms=MINUTE,
        timestamped=True,
    ).build(tmp)
    assert isinstance(store, WindowStore)
    return store


def _updates(store: WindowStore) -> None:
    """Hopping-window style traffic: each key's windows read and rewritten many times."""
    for i in range(300):
        key = f"k{i % 7}"
        for start in (i // 50 * MINUTE, (i // 50 + 1) * MINUTE):
            found = store.fetch_with_timestamp(key, start)
            count = 0 if found is None else found[0]
            store.put(key, count + 1, start, timestamp=1_000 + i)


def _manager(store: WindowStore | TimestampedKeyValueStore) -> StateManager:
    return StateManager("0_0", 0, lambda n: f"app-{n}-changelog", {store.name: store})


def test_commit_sees_what_the_serialized_path_writes(tmp_path: Path) -> None:
    cached = _window_store(tmp_path, "cached")
    plain = _window_store(tmp_path, "plain")
    plain._check = None  # the serialized path only
    for store in (cached, plain):
        _updates(store)
    assert cached._cache and not plain._cache
    assert not cached.buffer.pending_changes()  # nothing serialized before the commit
    got = _manager(cached).changelog_records(0)
    want = _manager(plain).changelog_records(0)
    assert sorted((r.key, r.value) for r in got) == sorted((r.key, r.value) for r in want)
    assert len(got) == 7 * 7  # one changelog record per window written
    for store in (cached, plain):
        _manager(store).apply({TopicPartition(f"app-{store.name}-changelog", 0): 99})
    assert list(cached.buffer.inner.all()) == list(plain.buffer.inner.all())
    assert cached.fetch_with_timestamp("k3", 2 * MINUTE) == plain.fetch_with_timestamp(
        "k3", 2 * MINUTE
    )
    cached.close()
    plain.close()


def test_aborted_work_leaves_the_cache(tmp_path: Path) -> None:
    store = _window_store(tmp_path, "w")
    state = _manager(store)
    store.put("a", 1, 0, timestamp=5)
    state.changelog_records(0)
    state.apply({TopicPartition("app-w-changelog", 0): 0})
    store.put("a", 2, 0, timestamp=6)  # dirty in the cache only
    assert store.fetch("a", 0) == 2
    state.discard()  # the transaction aborted
    assert store.fetch_with_timestamp("a", 0) == (1, 5)
    assert state.changelog_records(0) == []
    store.close()


def test_eviction_writes_the_oldest_through_and_keeps_every_value(tmp_path: Path) -> None:
    store = _window_store(tmp_path, "w")
    store.cache_limit = 10
    for i in range(40):
        store.put(f"k{i}", i, 0, timestamp=i)
    assert len(store._cache) <= 10 and store.buffer.has_pending()
    assert [store.fetch(f"k{i}", 0) for i in range(40)] == list(range(40))
    store.close()


def test_range_reads_see_cached_windows_and_turn_the_cache_off(tmp_path: Path) -> None:
    store = _window_store(tmp_path, "w")
    store.put("a", 1, 0)
    store.put("a", 2, MINUTE)
    assert store.fetch("a", 0, 5 * MINUTE) == [(0, 1), (MINUTE, 2)]
    store.put("a", 3, 2 * MINUTE)
    assert not store._cache and store.fetch("a", 0, 5 * MINUTE)[-1] == (2 * MINUTE, 3)
    store.close()


def test_values_that_could_alias_or_fail_take_the_serialized_path(tmp_path: Path) -> None:
    store = _window_store(tmp_path, "w", serdes.JSON)
    agg = [1]
    store.put("a", agg, 0)
    agg.append(2)  # mutating the caller's object must not change the stored window
    assert store.fetch("a", 0) == [1] and not store._cache
    longs = _window_store(tmp_path, "l")
    with pytest.raises(SerializationError):
        longs.put("a", 1 << 70, 0)  # too large for LONG: fails at its put, as before
    with pytest.raises(SerializationError):
        longs.put("a", True, 0)
    store.close()
    longs.close()


@pytest.mark.parametrize(
    ("serde", "value", "cached"),
    [
        (serdes.LONG, 5, True),
        (serdes.LONG, True, False),
        (serdes.INT, 1 << 40, False),
        (serdes.JSON, 7, True),
        (serdes.JSON, 1.5, False),
        (serdes.JSON, "text", False),
        (serdes.FLOAT, 1.5, True),
        (serdes.FLOAT, 1, False),  # would read back as 1.0
        (serdes.STRING, "text", False),
    ],
)
def test_cache_check(serde: object, value: object, cached: bool) -> None:
    check = cache_check(serde)
    assert (check is not None and check(value)) is cached


def test_windowed_emit_cache_forwards_latest_new_and_oldest_old() -> None:
    from streamz_kit.processor.cache import WindowedEmitCache
    from streamz_kit.processor.types import Change
    from streamz_kit.windows import Window, Windowed

    sent: list[tuple[object, object, int]] = []
    cache = WindowedEmitCache(lambda k, c, ts, h: sent.append((k, c, ts)), 100, MINUTE)
    cache.put_window("a", 0, 1, 0, 10, ())
    cache.put_window("a", 0, 2, 1, 11, ())
    cache.put_window("a", MINUTE, 1, 0, 12, ())
    cache.put_window(["unhashable"], 0, 1, 0, 13, ())  # forwarded at once
    assert sent == [(Windowed(["unhashable"], Window(0, MINUTE)), Change(1, 0), 13)]
    cache.flush()
    assert sent[1:] == [
        (Windowed("a", Window(0, MINUTE)), Change(2, 0), 11),
        (Windowed("a", Window(MINUTE, 2 * MINUTE)), Change(1, 0), 12),
    ]
    assert (cache.puts, cache.hits) == (4, 1)


def _kv(tmp: Path, name: str, key_serde: object = serdes.STRING) -> TimestampedKeyValueStore:
    from streamz_kit.stores import StoreBuilder

    store = StoreBuilder(name, "timestamped_kv", "rocksdb", key_serde, serdes.JSON).build(tmp)
    assert isinstance(store, TimestampedKeyValueStore)
    return store


def test_key_value_counts_commit_what_the_serialized_path_writes(tmp_path: Path) -> None:
    cached, plain = _kv(tmp_path, "cached"), _kv(tmp_path, "plain")
    plain._check = None
    for store in (cached, plain):
        for i in range(500):
            key = f"k{i % 13}"
            found = store.get_with_timestamp(key)
            store.put(key, 1 if found is None else found[0] + 1, i)
        store.put("gone", 1, 0)
        assert store.delete("gone") == 1
    assert cached._cache and cached.buffer.pending_changes() == [
        (b"gone", None)
    ]  # deletes write through
    got = _manager(cached).changelog_records(0)
    want = _manager(plain).changelog_records(0)
    assert sorted((r.key, r.value) for r in got) == sorted((r.key, r.value) for r in want)
    assert dict(cached.all()) == dict(plain.all()) and cached.get("k3") == 39
    assert cached.get_with_timestamp("k3") == (39, 497)
    cached.close()
    plain.close()


def test_only_keys_equal_as_bytes_share_a_cache_entry(tmp_path: Path) -> None:
    store = _kv(tmp_path, "w", serdes.JSON)  # 1, 1.0 and True are three JSON keys
    store.put(1, 10)
    store.put(1.0, 20)
    store.put(True, 30)
    assert (store.get(1), store.get(1.0), store.get(True)) == (10, 20, 30)
    assert len(_manager(store).changelog_records(0)) == 3
    store.close()


def test_key_value_discard_drops_dirty_values(tmp_path: Path) -> None:
    store = _kv(tmp_path, "w")
    state = _manager(store)
    store.put("a", 1, 5)
    state.changelog_records(0)
    state.apply({TopicPartition("app-w-changelog", 0): 0})
    store.put("a", 2, 6)
    state.discard()
    assert store.get_with_timestamp("a") == (1, 5) and state.changelog_records(0) == []
    store.close()
