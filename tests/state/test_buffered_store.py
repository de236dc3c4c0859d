"""The write buffer and the commit protocol, over each bytes store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamz_kit.state import buffered
from streamz_kit.state.api import BytesStore
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.rocksdb import RocksDBBytesStore

Make = Callable[..., BytesStore]


def test_writes_stay_pending_until_applied(make_inner: Make, inner_kind: str) -> None:
    inner = make_inner(inner_kind)
    buf = BufferedStore(inner)
    buf.put(b"a", b"1")
    buf.put(b"b", b"2")
    assert buf.get(b"a") == b"1"
    assert inner.get(b"a") is None
    assert buf.has_pending()
    buf.apply_pending(10)
    buf.write_applied()  # persistent stores write committed changes behind (below)
    assert inner.get(b"a") == b"1" and inner.get(b"b") == b"2"
    assert inner.changelog_offset() == 10 == buf.changelog_offset()
    assert not buf.has_pending() and buf.pending_changes() == []


def test_persistent_stores_write_committed_changes_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applied changes wait in memory (reads see them) until enough keys or time gathered;
    what the bytes store holds is always one commit's state with that commit's offset."""
    monkeypatch.setattr(buffered, "WRITE_BEHIND_ENTRIES", 3)
    monkeypatch.setattr(buffered, "WRITE_BEHIND_S", 3600.0)
    inner = RocksDBBytesStore("s", tmp_path / "s")
    buf = BufferedStore(inner)
    buf.put(b"a", b"1")
    buf.put(b"b", b"2")
    buf.apply_pending(5)
    assert inner.get(b"a") is None and inner.changelog_offset() is None  # not yet written
    assert buf.get(b"a") == b"1" and buf.changelog_offset() == 5
    buf.put(b"a", b"3")  # pending over applied over stored
    buf.delete(b"b")
    assert buf.get(b"a") == b"3" and buf.get(b"b") is None
    buf.discard_pending()  # an aborted transaction leaves the committed changes
    assert buf.get(b"a") == b"1" and buf.get(b"b") == b"2"
    buf.put(b"c", b"4")
    buf.apply_pending(6)  # three keys wait: written, with the offset of the last commit
    assert dict(inner.all()) == {b"a": b"1", b"b": b"2", b"c": b"4"}
    assert inner.changelog_offset() == 6 == buf.changelog_offset()
    buf.delete(b"a")
    buf.apply_pending(7)
    assert buf.get(b"a") is None and inner.get(b"a") == b"1"
    assert buf.approximate_num_entries() == 2
    assert buf.delete_range(b"a", b"c") == 2  # a (applied delete) and b (stored)
    assert list(buf.range(None, None)) == [(b"c", b"4")]  # a range read writes first
    assert inner.changelog_offset() == 7 and inner.get(b"a") is None
    buf.apply_pending(8)
    buf.close()  # closing writes what waits: a reopened store needs no restoration
    reopened = RocksDBBytesStore("s", tmp_path / "s")
    assert dict(reopened.all()) == {b"c": b"4"} and reopened.changelog_offset() == 8
    reopened.close()


def test_write_behind_writes_after_its_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buffered, "WRITE_BEHIND_S", 0.0)
    inner = RocksDBBytesStore("s", tmp_path / "s")
    buf = BufferedStore(inner)
    buf.put(b"a", b"1")
    buf.apply_pending(1)
    assert inner.get(b"a") == b"1" and inner.changelog_offset() == 1
    buf.close()


def test_pending_changes_one_per_key_in_first_write_order(make_inner: Make) -> None:
    buf = BufferedStore(make_inner("memory"))
    buf.put(b"z", b"1")
    buf.put(b"a", b"1")
    buf.put(b"z", b"2")
    buf.delete(b"a")
    buf.put(b"m", b"3")
    assert buf.pending_changes() == [(b"z", b"2"), (b"a", None), (b"m", b"3")]


def test_discard_pending_restores_committed_view(make_inner: Make, inner_kind: str) -> None:
    inner = make_inner(inner_kind)
    buf = BufferedStore(inner)
    buf.put(b"a", b"1")
    buf.apply_pending(1)
    buf.put(b"a", b"2")
    buf.delete(b"a")
    buf.put(b"b", b"x")
    buf.discard_pending()
    assert buf.get(b"a") == b"1" and buf.get(b"b") is None
    assert list(buf.all()) == [(b"a", b"1")]
    assert buf.changelog_offset() == 1


def test_pending_delete_hides_stored_entry_in_ranges(make_inner: Make, inner_kind: str) -> None:
    buf = BufferedStore(make_inner(inner_kind))
    for k in (b"a", b"b", b"c", b"d"):
        buf.put(k, b"old")
    buf.apply_pending(4)
    buf.delete(b"b")
    buf.put(b"c", b"new")
    buf.put(b"bb", b"ins")
    expected = [(b"a", b"old"), (b"bb", b"ins"), (b"c", b"new"), (b"d", b"old")]
    assert list(buf.all()) == expected
    assert list(buf.range(None, None, reverse=True)) == expected[::-1]
    assert list(buf.range(b"b", b"c")) == expected[1:3]
    if inner_kind == "memory":
        assert buf.approximate_num_entries() == 4


def test_delete_range_deletes_pending_and_stored_keys_up_to_hi(
    make_inner: Make, inner_kind: str
) -> None:
    buf = BufferedStore(make_inner(inner_kind))
    for k in (b"a", b"b1", b"b2", b"c"):
        buf.put(k, b"old")
    buf.apply_pending(4)
    buf.put(b"b3", b"new")  # pending only
    buf.put(b"b2", b"newer")  # pending and stored
    assert buf.delete_range(b"b", b"c") == 3  # [b, c): c itself stays
    assert buf._sorted is None  # no sorted index built (later puts need not maintain one)
    assert list(buf.all()) == [(b"a", b"old"), (b"c", b"old")]


def test_writes_during_iteration_do_not_break_it(make_inner: Make) -> None:
    buf = BufferedStore(make_inner("memory"))
    for i in range(5):
        buf.put(b"k%d" % i, b"v")
    buf.apply_pending(None)
    buf.put(b"k9", b"v")
    seen = []
    for key, _ in buf.all():
        seen.append(key)
        buf.put(key + b"x", b"later")  # must not disturb the running scan
    assert seen == [b"k0", b"k1", b"k2", b"k3", b"k4", b"k9"]


def test_apply_stores_offset_atomically_with_data_rocksdb(tmp_path: Path) -> None:
    buf = BufferedStore(RocksDBBytesStore("s", tmp_path / "s"))
    buf.put(b"a", b"1")
    buf.apply_pending(5)
    buf.put(b"a", b"2")
    buf.put(b"b", b"3")
    buf.apply_pending(7)
    buf.put(b"c", b"uncommitted")
    buf.close()  # pending work is lost: it was never committed
    reopened = RocksDBBytesStore("s", tmp_path / "s")
    try:
        assert reopened.changelog_offset() == 7
        assert list(reopened.all()) == [(b"a", b"2"), (b"b", b"3")]
    finally:
        reopened.close()


class _CountingStore(InMemoryBytesStore):
    def __init__(self) -> None:
        super().__init__("c")
        self.batches: list[tuple[int, int | None]] = []

    def write_batch(self, changes: Any, changelog_offset: int | None) -> None:
        self.batches.append((len(changes), changelog_offset))
        super().write_batch(changes, changelog_offset)


def test_apply_pending_is_one_write_batch() -> None:
    inner = _CountingStore()
    buf = BufferedStore(inner)
    for i in range(100):
        buf.put(b"%03d" % (i % 10), b"v%d" % i)
    buf.apply_pending(100)
    assert inner.batches == [(10, 100)]
    buf.apply_pending(100)  # nothing pending, offset unchanged: no write
    assert inner.batches == [(10, 100)]
    buf.apply_pending(101)  # offset moved (other stores' records): record it
    assert inner.batches == [(10, 100), (0, 101)]


def test_restore_batch_bypasses_the_buffer(make_inner: Make, inner_kind: str) -> None:
    inner = make_inner(inner_kind)
    buf = BufferedStore(inner)
    gen = buf.generation
    buf.restore_batch([(b"a", b"1"), (b"b", b"2"), (b"a", None)], 3)
    assert inner.get(b"b") == b"2" and inner.get(b"a") is None
    assert buf.changelog_offset() == 3
    assert not buf.has_pending()
    assert buf.generation > gen


# -- model-based: the buffer behaves like a dict with commit/abort ----------------------

KEYS = st.binary(min_size=0, max_size=3)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), KEYS, st.binary(min_size=1, max_size=3)),
        st.tuples(st.just("delete"), KEYS, st.none()),
        st.tuples(st.just("apply"), st.none(), st.none()),
        st.tuples(st.just("discard"), st.none(), st.none()),
        st.tuples(st.just("range"), KEYS, KEYS),
        st.tuples(st.just("rrange"), KEYS, KEYS),
        st.tuples(st.just("get"), KEYS, st.none()),
    ),
    max_size=60,
)


def _check_against_model(buf: BufferedStore, ops: list[tuple[str, Any, Any]]) -> None:
    committed: dict[bytes, bytes] = {}
    current: dict[bytes, bytes] = {}
    offset = 0
    for op, a, b in ops:
        if op == "put":
            buf.put(a, b)
            current[a] = b
        elif op == "delete":
            buf.delete(a)
            current.pop(a, None)
        elif op == "apply":
            offset += 1
            buf.apply_pending(offset)
            committed = dict(current)
            assert buf.changelog_offset() == offset
        elif op == "discard":
            buf.discard_pending()
            current = dict(committed)
        elif op in ("range", "rrange"):
            lo, hi = min(a, b), max(a, b)
            expected = sorted((k, v) for k, v in current.items() if lo <= k <= hi)
            if op == "rrange":
                expected.reverse()
            assert list(buf.range(lo, hi, reverse=op == "rrange")) == expected
        else:
            assert buf.get(a) == current.get(a)
    assert list(buf.all()) == sorted(current.items())
    buf.write_applied()  # write-behind (persistent stores): committed changes in memory
    inner_items = dict(buf.inner.all())
    assert inner_items == committed
    assert buf.inner.changelog_offset() == (offset or None)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_buffer_matches_dict_model_memory(ops: list[tuple[str, Any, Any]]) -> None:
    _check_against_model(BufferedStore(InMemoryBytesStore("m")), ops)


@pytest.fixture(scope="module")
def shared_rocks(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = RocksDBBytesStore("h", tmp_path_factory.mktemp("hyp") / "h")
    yield store
    store.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_buffer_matches_dict_model_rocksdb(
    shared_rocks: RocksDBBytesStore, ops: list[tuple[str, Any, Any]]
) -> None:
    shared_rocks.wipe()
    _check_against_model(BufferedStore(shared_rocks), ops)
