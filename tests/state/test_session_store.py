"""Session store: Kafka's findSessions semantics, removal, retention by session end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamz_kit import serdes
from streamz_kit.state.session import SessionStore
from streamz_kit.stores import session_store_builder
from streamz_kit.windows import Window, Windowed

MINUTE = 60_000


@pytest.fixture(params=["memory", "rocksdb"])
def ss(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    store = session_store_builder(
        "sess",
        store=request.param,
        key_serde=serdes.STRING,
        value_serde=serdes.LONG,
        retention_ms=10 * MINUTE,
    ).build(tmp_path)
    assert isinstance(store, SessionStore)
    yield store
    store.close()


def test_find_sessions_uses_end_and_start_bounds(ss: SessionStore) -> None:
    ss.put("k", 0, 10, 1)
    ss.put("k", 20, 30, 2)
    ss.put("k", 40, 50, 3)
    ss.put("other", 20, 30, 9)
    assert ss.find_sessions("k", 15, 45) == [(Window(20, 30), 2), (Window(40, 50), 3)]
    assert ss.find_sessions("k", 30, 20) == [(Window(20, 30), 2)]  # both bounds inclusive
    assert ss.find_sessions("k", 31, 39) == []
    assert ss.find_sessions("k", 0, 0) == [(Window(0, 10), 1)]


def test_fetch_all_sessions_of_a_key_ordered_by_end(ss: SessionStore) -> None:
    ss.put("k", 100, 5 * MINUTE, 2)
    ss.put("k", 0, 10, 1)
    ss.put("ka", 0, 10, 7)
    assert ss.fetch("k") == [(Window(0, 10), 1), (Window(100, 5 * MINUTE), 2)]
    assert ss.fetch("ka") == [(Window(0, 10), 7)]
    assert ss.fetch_session("k", 0, 10) == 1
    assert ss.fetch_session("k", 0, 11) is None


def test_remove_and_put_none(ss: SessionStore) -> None:
    ss.put("k", 0, 10, 1)
    ss.put("k", 20, 30, 2)
    ss.buffer.apply_pending(2)
    ss.remove("k", 0, 10)
    ss.put("k", 20, 30, None)
    assert ss.fetch("k") == []
    ss.buffer.apply_pending(4)
    ss.buffer.write_applied()
    assert list(ss.buffer.inner.all()) == []


def test_merged_session_replaces_its_parts(ss: SessionStore) -> None:
    ss.put("k", 0, 10, 1)
    ss.put("k", 15, 20, 1)
    for window, _ in ss.find_sessions("k", 5, 16):
        ss.remove("k", window.start, window.end)
    ss.put("k", 0, 20, 2)
    assert ss.fetch("k") == [(Window(0, 20), 2)]


def test_fetch_all_gives_windowed_keys(ss: SessionStore) -> None:
    ss.put("b", 5, 6, 2)
    ss.put("a", 0, 10, 1)
    assert sorted(ss.fetch_all(), key=lambda kv: kv[1]) == [
        (Windowed("a", Window(0, 10)), 1),
        (Windowed("b", Window(5, 6)), 2),
    ]
    assert ss.fetch_all(7, 100) == [(Windowed("a", Window(0, 10)), 1)]


def test_writes_expire_by_session_end(ss: SessionStore) -> None:
    """Kafka's session store: observed time is the latest session end written; sessions
    ending at or before observed - retention (10 min) are gone."""
    for i in range(30):
        ss.put("k", i * MINUTE - 30_000, i * MINUTE, i)
    assert [agg for _, agg in ss.fetch("k")] == list(range(20, 30))
    assert [agg for _, agg in ss.fetch_all()] == list(range(20, 30))
    assert ss.fetch_session("k", 19 * MINUTE - 30_000, 19 * MINUTE) is None
    ss.put("k", 0, 5, 99)  # past retention: ignored
    assert ss.find_sessions("k", 0, 10) == []


def test_a_restored_store_rebuilds_its_observed_time(tmp_path: Path) -> None:
    """Kafka's store rebuilds its observed stream time from the restored records: a session
    past retention but still in a live segment stays hidden after a restore."""
    from streamz_kit.state.restore import restore_store
    from streamz_kit.transport.port import ConsumedRecord

    def make(kind: str, name: str) -> SessionStore:
        store = session_store_builder(
            name,
            store=kind,
            key_serde=serdes.STRING,
            value_serde=serdes.LONG,
            retention_ms=10 * MINUTE,
        ).build(tmp_path / kind)
        assert isinstance(store, SessionStore)
        return store

    source = make("memory", "sess")
    source.put("k", 10 * MINUTE, 10 * MINUTE, 1)
    source.put("k", 20 * MINUTE, 20 * MINUTE, 2)  # floor 10 min + 1 ms: the first is hidden
    assert source.fetch("k") == [(Window(20 * MINUTE, 20 * MINUTE), 2)]
    changelog = [
        ConsumedRecord("app-sess-changelog", 0, off, 0, k, v)
        for off, (k, v) in enumerate(source.buffer.pending_changes())
    ]
    target = make("rocksdb", "sess")
    restore_store(target.buffer, changelog)
    assert target.fetch("k") == [(Window(20 * MINUTE, 20 * MINUTE), 2)]
    assert target.find_sessions("k", 0, 30 * MINUTE) == [(Window(20 * MINUTE, 20 * MINUTE), 2)]
    source.close()
    target.close()
