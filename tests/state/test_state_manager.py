"""StateManager: the one owner of a task's stores (changelog records, apply-after-commit,
discard, restore targets, close)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamz_kit import serdes
from streamz_kit.errors import StateStoreError
from streamz_kit.state.manager import StateManager
from streamz_kit.stores import key_value_store_builder
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord, TopicPartition


def _changelog(name: str) -> str:
    return f"app-{name}-changelog"


def _manager(tmp_path: Path) -> StateManager:
    logged = key_value_store_builder(
        "logged", store="rocksdb", key_serde=serdes.STRING, value_serde=serdes.LONG
    ).build(tmp_path)
    quiet = (
        key_value_store_builder("quiet", key_serde=serdes.STRING, value_serde=serdes.LONG)
        .with_logging_disabled()
        .build(tmp_path)
    )
    return StateManager("0_3", 3, _changelog, {"logged": logged, "quiet": quiet})


def test_changelog_records_then_apply_writes_data_and_offset(tmp_path: Path) -> None:
    state = _manager(tmp_path)
    state.stores["logged"].put("a", 1)
    state.stores["logged"].put("a", 2)  # one change per key
    state.stores["quiet"].put("q", 9)
    records = state.changelog_records(timestamp=42)
    assert records == [
        ProducerRecord("app-logged-changelog", 3, b"a", serdes.LONG.serialize("", 2), 42, ())
    ]
    assert state.changelog_offset("logged") is None
    state.apply({TopicPartition("app-logged-changelog", 3): 17})
    assert state.changelog_offset("logged") == 18  # the next offset to restore from
    assert state.stores["logged"].get("a") == 2 and state.stores["quiet"].get("q") == 9
    assert state.changelog_records(timestamp=43) == []
    state.close()


def test_discard_forgets_pending_changes(tmp_path: Path) -> None:
    state = _manager(tmp_path)
    state.stores["logged"].put("a", 1)
    state.discard()
    assert state.stores["logged"].get("a") is None and state.changelog_records(0) == []
    state.close()


def test_restore_targets_are_the_logged_stores_and_restore_into_them(tmp_path: Path) -> None:
    state = _manager(tmp_path)
    (target,) = state.restore_targets()
    assert target.name == "logged"
    assert target.partition == TopicPartition("app-logged-changelog", 3)
    value = serdes.LONG.serialize("", 4)
    target.restore([ConsumedRecord("app-logged-changelog", 3, 5, 0, b"k", value, ())])
    assert target.next_offset() == 6 and state.stores["logged"].get("k") == 4
    state.close()


def test_close_closes_only_the_stores_it_owns(tmp_path: Path) -> None:
    shared = key_value_store_builder(
        "global", store="rocksdb", key_serde=serdes.STRING, value_serde=serdes.LONG
    ).build(tmp_path)
    shared.put("g", 1)
    shared.buffer.apply_pending(None)
    state = _manager(tmp_path)
    task_view = {"global": shared, **state.stores}  # what the task's nodes see
    state.close()
    with pytest.raises(StateStoreError, match="closed"):
        task_view["logged"].get("a")  # closed with its task
    assert task_view["global"].get("g") == 1  # still open: shared by every task
    shared.close()
