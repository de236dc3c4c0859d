"""Window store: fetch semantics (by window start, as in Kafka), duplicates, retention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamz_kit import serdes
from streamz_kit.state.restore import restore_store
from streamz_kit.state.window import WindowStore
from streamz_kit.stores import window_store_builder
from streamz_kit.transport.port import ConsumedRecord
from streamz_kit.windows import Window, Windowed

MINUTE = 60_000


def make(
    kind: str, tmp: Path, *, retention: int = 10 * MINUTE, size: int = MINUTE, **kw: bool
) -> WindowStore:
    builder = window_store_builder(
        "w",
        store=kind,
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,  # type: ignore[arg-type]
        retention_ms=retention,
        window_size_ms=size,
        **kw,
    )
    store = builder.build(tmp)
    assert isinstance(store, WindowStore)
    return store


@pytest.fixture(params=["memory", "rocksdb"])
def ws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WindowStore]:
    store = make(request.param, tmp_path)
    yield store
    store.close()


def test_put_and_fetch_single_window(ws: WindowStore) -> None:
    ws.put("a", {"n": 1}, 0)
    ws.put("a", {"n": 2}, MINUTE)
    assert ws.fetch("a", 0) == {"n": 1}
    assert ws.fetch("a", MINUTE) == {"n": 2}
    assert ws.fetch("a", 2 * MINUTE) is None
    assert ws.fetch("b", 0) is None


def test_fetch_range_is_by_window_start_inclusive(ws: WindowStore) -> None:
    for i in range(6):
        ws.put("a", i, i * MINUTE)
    ws.put("b", 99, 2 * MINUTE)
    assert ws.fetch("a", MINUTE, 3 * MINUTE) == [(MINUTE, 1), (2 * MINUTE, 2), (3 * MINUTE, 3)]
    assert ws.fetch("a", MINUTE + 1, 3 * MINUTE - 1) == [(2 * MINUTE, 2)]
    assert ws.fetch("a", 10 * MINUTE, 20 * MINUTE) == []
    assert ws.fetch("b", 0, 10 * MINUTE) == [(2 * MINUTE, 99)]


def test_keys_that_prefix_each_other_do_not_mix(ws: WindowStore) -> None:
    ws.put("a", 1, 0)
    ws.put("ab", 2, 0)
    ws.put("a\x00", 3, 0)
    assert ws.fetch("a", 0, MINUTE) == [(0, 1)]
    assert ws.fetch("ab", 0, MINUTE) == [(0, 2)]


def test_fetch_across_many_segments_stays_in_start_order(tmp_path: Path) -> None:
    store = make("memory", tmp_path, retention=100 * MINUTE)  # segment = 50 minutes
    for i in range(0, 100, 7):
        store.put("k", i, i * MINUTE)
    assert [v for _, v in store.fetch("k", 0, 100 * MINUTE)] == list(range(0, 100, 7))
    assert len(store.segments.ids()) == 2


def test_put_none_deletes(ws: WindowStore) -> None:
    ws.put("a", 1, 0)
    ws.flush_cache()  # the commit's first step
    ws.buffer.apply_pending(1)
    ws.put("a", None, 0)
    assert ws.fetch("a", 0) is None
    assert ws.fetch("a", 0, MINUTE) == []


def test_fetch_all_and_all_give_windowed_keys(ws: WindowStore) -> None:
    ws.put("b", 2, MINUTE)
    ws.put("a", 1, 0)
    ws.put("a", 3, 5 * MINUTE)
    got = ws.fetch_all(0, 2 * MINUTE)
    assert sorted(got, key=lambda kv: kv[1]) == [
        (Windowed("a", Window(0, MINUTE)), 1),
        (Windowed("b", Window(MINUTE, 2 * MINUTE)), 2),
    ]
    assert len(ws.all()) == 3


def test_retain_duplicates_keeps_every_put_in_order(tmp_path: Path) -> None:
    store = make("rocksdb", tmp_path, retain_duplicates=True)
    store.put("k", "x", 100)
    store.put("k", "y", 100)
    store.put("k", "z", 50)
    store.put("k", None, 100)  # no-op with duplicates: entries cannot be addressed
    assert store.fetch("k", 0, 200) == [(50, "z"), (100, "x"), (100, "y")]
    assert store.fetch("k", 100) == "x"
    store.close()


def test_timestamped_values(tmp_path: Path) -> None:
    store = make("memory", tmp_path, timestamped=True)
    store.put("k", {"v": 1}, 0, timestamp=1234)
    assert store.fetch("k", 0) == {"v": 1}
    assert store.fetch_with_timestamp("k", 0) == ({"v": 1}, 1234)
    store.flush_cache()  # the commit's first step
    ((_, raw),) = store.buffer.pending_changes()
    assert raw is not None and int.from_bytes(raw[:8], "big") == 1234


def test_writes_expire_windows_older_than_retention(ws: WindowStore) -> None:
    """Kafka's window store: observed time is the latest window start written; windows
    starting at or before observed - retention are gone (read from observed - retention + 1)."""
    # retention 10 min, segments of 5 min (Kafka: max(retention/2, 1 min))
    for i in range(25):
        ws.put("k", i, i * MINUTE)
    ws.flush_cache()  # the commit's first step
    ws.buffer.apply_pending(25)
    ws.put("k", 25, 25 * MINUTE)  # observed 25 min: starts at or before 15 min expire
    assert [s // MINUTE for s, _ in ws.fetch("k", 0, 30 * MINUTE)] == list(range(16, 26))
    assert ws.fetch("k", 15 * MINUTE) is None and ws.fetch("k", 16 * MINUTE) == 16
    assert [w.window.start // MINUTE for w, _ in ws.all()] == list(range(16, 26))
    # the whole segment [10, 15) min is deleted through the buffer, so the changelog learns it
    ws.flush_cache()  # the commit's first step
    deleted = [k for k, v in ws.buffer.pending_changes() if v is None]
    assert len(deleted) == 5
    ws.flush_cache()  # the commit's first step
    ws.buffer.apply_pending(45)
    ws.buffer.write_applied()  # persistent stores write committed changes behind
    assert len(list(ws.buffer.inner.all())) == 11  # [15, 25] min: 15 hidden, not yet dropped
    ws.put("k", "late", 3 * MINUTE)  # a window past retention is not written
    ws.flush_cache()  # the commit's first step
    assert ws.fetch("k", 3 * MINUTE) is None and not ws.buffer.pending_changes()


def test_expired_windows_inside_a_live_segment_are_hidden(ws: WindowStore) -> None:
    for i in range(12):
        ws.put("k", i, i * MINUTE)
    ws.put("k", 17, 17 * MINUTE)  # floor 7 min + 1 ms: segment [5, 10) stays, 5 to 7 expired
    assert [s // MINUTE for s, _ in ws.fetch("k", 0, 20 * MINUTE)] == [8, 9, 10, 11, 17]
    assert [w.window.start // MINUTE for w, _ in ws.fetch_all(0, 20 * MINUTE)] == [8, 9, 10, 11, 17]


def test_restore_then_fetch_rebuilds_segment_index(tmp_path: Path) -> None:
    source = make("memory", tmp_path)
    for i in range(10):
        source.put(f"k{i % 3}", i, i * MINUTE)
    source.flush_cache()  # the commit's first step
    changelog = [
        ConsumedRecord("app-w-changelog", 0, off, 0, k, v)
        for off, (k, v) in enumerate(source.buffer.pending_changes())
    ]
    target = make("rocksdb", tmp_path)
    assert target.fetch("k0", 0, 100 * MINUTE) == []  # index computed while empty
    restore_store(target.buffer, changelog)
    assert target.buffer.changelog_offset() == len(changelog)
    assert target.fetch("k0", 0, 100 * MINUTE) == [
        (0, 0),
        (3 * MINUTE, 3),
        (6 * MINUTE, 6),
        (9 * MINUTE, 9),
    ]
    target.close()


def test_discard_brings_back_expired_segments(ws: WindowStore) -> None:
    for i in range(25):
        ws.put("k", i, i * MINUTE)
    ws.flush_cache()  # the commit's first step
    ws.buffer.apply_pending(1)
    assert ws.segments.ids() == [2, 3, 4]
    ws.put("k", 30, 30 * MINUTE)  # floor 20 min + 1 ms: segments [10, 20) min are dropped
    assert ws.segments.ids() == [4, 6]
    ws.buffer.discard_pending()  # the transaction holding the expiry aborted
    assert ws.segments.ids() == [2, 3, 4]  # stored segments are found again
    assert len(list(ws.buffer.all())) == 15
    assert [s // MINUTE for s, _ in ws.fetch("k", 0, 30 * MINUTE)] == list(range(15, 25))
    ws.put("k", 30, 30 * MINUTE)  # the next write drops them again
    assert len(list(ws.buffer.all())) == 6
