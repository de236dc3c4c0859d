"""The versioned key-value store (state/versioned.py) on its own: put return codes, as-of
reads with validity intervals, history retention, and restoration from its changelog records
(the rules of Kafka's RocksDBVersionedStore, KIP-889)."""

from __future__ import annotations

from pathlib import Path

from streamz_kit import serdes
from streamz_kit.state.restore import restore_store
from streamz_kit.state.versioned import IS_LATEST, NOT_PUT, VersionedKeyValueStore, VersionedRecord
from streamz_kit.stores import versioned_key_value_store_builder
from streamz_kit.transport.port import ConsumedRecord


def store(path: Path, name: str = "v") -> VersionedKeyValueStore:
    built = versioned_key_value_store_builder(
        name, key_serde=serdes.STRING, value_serde=serdes.STRING, history_retention=100
    ).build(path)
    assert isinstance(built, VersionedKeyValueStore)
    return built


def test_put_codes_and_as_of_reads(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.put("k", "v10", 10) == IS_LATEST
    assert s.put("k", "v30", 30) == IS_LATEST
    assert s.put("k", "v20", 20) == 30  # out of order: valid until the next version
    assert s.put("k", None, 40) == IS_LATEST  # a tombstone version
    assert s.get("k") is None and s.get_with_timestamp("k") is None
    assert s.get_versioned("k", as_of=9) is None
    assert s.get_versioned("k", as_of=10) == VersionedRecord("v10", 10, 20)
    assert s.get_versioned("k", as_of=25) == VersionedRecord("v20", 20, 30)
    assert s.get_versioned("k", as_of=39) == VersionedRecord("v30", 30, 40)
    assert s.get("k", as_of=40) is None
    assert s.put("k", "v20b", 20) == 30  # same timestamp: replaces that version
    assert s.get("k", as_of=21) == "v20b"
    assert s.delete("k", 50) is None  # nothing valid just before 50 (tombstone at 40)
    s.close()


def test_history_retention_refuses_old_puts_and_reads(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.put("k", "a", 10)
    s.put("k", "b", 150)
    assert s.observed_stream_time == 150
    assert s.put("k", "old", 49) == NOT_PUT  # older than 150 - 100
    assert s.put("k", "ok", 50) == 150  # exactly at the boundary: kept
    assert s.get("k", as_of=49) is None  # reads before the retention window: None
    assert s.get("k", as_of=50) == "ok"
    assert s.get("j", as_of=200) is None
    assert list(s.all()) == [("k", "b")]
    s.close()


def test_a_new_store_restored_from_the_changelog_answers_the_same(tmp_path: Path) -> None:
    s = store(tmp_path / "a")
    for key, value, ts in [
        ("k", "1", 10),
        ("k", "3", 30),
        ("k", "2", 20),
        ("j", "x", 5),
        ("j", None, 15),
        ("k", "9", 130),
    ]:
        s.put(key, value, ts)
    changes = s.buffer.pending_changes()  # what the commit produces to the changelog
    s.buffer.apply_pending(len(changes))
    answers = {(k, t): s.get_versioned(k, as_of=t) for k in "kj" for t in (0, 29, 30, 100, 200)}
    copy = store(tmp_path / "b", "v")
    restore_store(
        copy.buffer,
        [ConsumedRecord("v-changelog", 0, i, 0, k, v) for i, (k, v) in enumerate(changes)],
    )
    assert copy.observed_stream_time == 130
    assert {
        (k, t): copy.get_versioned(k, as_of=t) for k in "kj" for t in (0, 29, 30, 100, 200)
    } == answers
    assert copy.put("k", "late", 29) == NOT_PUT  # the restored stream time still applies
    s.close()
    copy.close()
