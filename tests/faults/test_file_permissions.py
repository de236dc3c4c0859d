"""Files the embedded broker and the state stores create are readable by their owner only.

Checked under a permissive umask (022), while the app runs (the SQLite -wal/-shm files and
fresh RocksDB files exist then) and after it stops. Two properties:
- strict: the broker's own files and every file of a closed RocksDB store are 0600 (or 0700
  for directories);
- effective: no file anywhere under the broker or state directory can be read by another
  user, because it is owner-only itself or some directory on the way to it is.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from tests.runtime.e2e import produce


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _readable_by_others(path: Path, root: Path) -> bool:
    """True when another user could read `path`: it grants read and every directory from
    `root` down to it grants search (x) to group or others."""
    if not _mode(path) & 0o044:
        return False
    for parent in [root, *path.relative_to(root).parents]:
        directory = root / parent if parent != root else root
        if not _mode(directory) & 0o011:
            return False
    return True


def _exposed(root: Path) -> list[str]:
    return [
        f"{p} {oct(_mode(p))}"
        for p in sorted(root.rglob("*"))
        if p.is_file() and _readable_by_others(p, root)
    ]


def _loose(paths: list[Path]) -> list[str]:
    return [f"{p} {oct(_mode(p))}" for p in paths if _mode(p) & 0o077]


def _app(broker: str, state_dir: Path) -> sk.App:
    builder = sk.StreamsBuilder()
    events = builder.stream("events", key_serde=serdes.STRING, value_serde=serdes.JSON)
    events.group_by(lambda k, v: v["user"]).count(
        materialized=sk.Materialized("counts", store="rocksdb")
    ).to_stream().to("counts", value_serde=serdes.LONG)
    return sk.App(
        builder.build(),
        application_id="perm",
        broker=broker,
        processing_guarantee="exactly_once",
        state_dir=str(state_dir),
        commit_interval_ms=20,
    )


async def _run_and_inspect(broker_dir: Path, state_dir: Path) -> dict[str, list[str]]:
    broker = f"embedded://{broker_dir}"
    await produce(broker, "events", [(f"k{i}", {"user": f"u{i % 50}"}) for i in range(3000)], 2)
    app = _app(broker, state_dir)
    await app.start()
    found: dict[str, list[str]] = {}
    try:
        deadline = time.monotonic() + 30
        while app.metrics().get("records_processed", 0) < 6000 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        broker_files = [broker_dir, *broker_dir.glob("log.db*"), *broker_dir.glob("groups/*")]
        names = {p.name for p in broker_files}
        assert {"log.db", "log.db-wal", "log.db-shm"} <= names, names
        assert any(n.endswith(".lock") for n in names), names
        found["broker files while running"] = _loose(broker_files)
        store_files = [p for p in state_dir.rglob("*") if "counts" in p.parts]
        assert any(p.suffix == ".sst" or p.name.startswith("MANIFEST") for p in store_files)
        found["exposed under the broker dir while running"] = _exposed(broker_dir)
        found["exposed under the state dir while running"] = _exposed(state_dir)
    finally:
        await app.stop()
    stores = [p for p in state_dir.rglob("*") if "counts" in p.parts]
    assert stores, f"no RocksDB files under {state_dir}"
    found["store files after stop"] = _loose(stores)
    found["broker files after stop"] = _loose(
        [broker_dir, *broker_dir.glob("log.db*"), *broker_dir.glob("groups/*")]
    )
    found["exposed under the state dir after stop"] = _exposed(state_dir)
    return found


def test_broker_and_store_files_are_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    broker_dir, state_dir = tmp_path / "log", tmp_path / "state"
    found = asyncio.run(_run_and_inspect(broker_dir, state_dir))
    assert {k: v for k, v in found.items() if v} == {}
