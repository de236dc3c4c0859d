"""Store stacks for the contract suite: every test taking `stack` runs against each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streamz_kit.state.api import BytesStore, Change
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.rocksdb import RocksDBBytesStore

STACKS = [
    "memory",
    "rocksdb",
    "buffered-pending:memory",
    "buffered-pending:rocksdb",
    "buffered-mixed:memory",
    "buffered-mixed:rocksdb",
]


class Stack:
    """One store stack behind a uniform write/read surface.

    Bytes stores are written with write_batch. Buffered stacks write through the buffer:
    `pending` never applies (reads come from the buffer alone), `mixed` applies after
    every other write so reads merge pending changes with stored ones.
    """

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        self._writes = 0
        mode, _, inner = kind.partition(":")
        self.mode = mode
        self.inner_kind = inner or mode
        self.bytes_store: BytesStore = self._make_inner()
        self.buffer = BufferedStore(self.bytes_store) if mode.startswith("buffered") else None

    def _make_inner(self) -> BytesStore:
        if self.inner_kind == "memory":
            return InMemoryBytesStore("s")
        return RocksDBBytesStore("s", self.tmp / "s")

    @property
    def reader(self) -> BytesStore | BufferedStore:
        return self.buffer if self.buffer is not None else self.bytes_store

    def write(self, changes: list[Change]) -> None:
        self._writes += 1
        if self.buffer is None:
            self.bytes_store.write_batch(changes, None)
            return
        for key, value in changes:
            self.buffer.put(key, value)
        if self.mode == "buffered-mixed" and self._writes % 2 == 0:
            self.buffer.apply_pending(None)

    def put(self, key: bytes, value: bytes | None) -> None:
        self.write([(key, value)])

    def close(self) -> None:
        self.reader.close()


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture(params=["memory", "rocksdb"])
def inner_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_inner(tmp_path: Path) -> Iterator[object]:
    made: list[BytesStore] = []

    def make(kind: str, name: str = "s") -> BytesStore:
        store: BytesStore = (
            InMemoryBytesStore(name)
            if kind == "memory"
            else RocksDBBytesStore(name, tmp_path / name)
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
