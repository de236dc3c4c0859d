"""Restoration: replay a fetched changelog batch straight into the bytes store.

No I/O here (the runtime fetches); one write batch per fetched batch, with the next
offset to restore from, so an interrupted restore resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamz_kit.state.api import Change
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.transport.port import ConsumedRecord

__all__ = ["restore_from_source", "restore_store"]


def restore_store(buffer: BufferedStore, records: Sequence[ConsumedRecord]) -> None:
    """Apply changelog records (None value = delete; null keys skipped) in one batch."""
    if not records:
        return
    changes: list[Change] = [(r.key, r.value) for r in records if r.key is not None]
    buffer.restore_batch(changes, records[-1].offset + 1)


def restore_from_source(store: Any, records: Sequence[ConsumedRecord]) -> int:
    """Replay records of a table's own source topic into its store (topology optimization:
    the source topic is the changelog). Each record goes through the store's serdes and its
    typed `put`, as the table source does, so the store holds exactly what processing the
    records would have written; a record that cannot be deserialized, has a null key or a
    negative timestamp is skipped, as processing skips it. One write batch, with the next
    source offset as the store's position. Returns the number of records skipped."""
    if not records:
        return 0
    skipped = 0
    kdes = store.key_serde.deserialize
    vdes = store.value_serde.deserialize
    for r in records:
        if r.key is None or r.timestamp < 0:
            skipped += 1
            continue
        try:
            key = kdes(r.topic, r.key)
            value = None if r.value is None else vdes(r.topic, r.value)
        except Exception:  # noqa: BLE001 -- processing skipped it; it never reached the store
            skipped += 1
            continue
        store.put(key, value, r.timestamp)
    store.buffer.apply_pending(records[-1].offset + 1)
    return skipped
