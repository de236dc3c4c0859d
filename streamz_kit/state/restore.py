"""Restoration: replay a fetched changelog batch straight into the bytes store.

No I/O here (the runtime fetches); one write batch per fetched batch, with the next
offset to restore from, so an interrupted restore resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamz_kit.state.api import Change
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.transport.port import ConsumedRecord

__all__ = ["restore_store"]


def restore_store(buffer: BufferedStore, records: Sequence[ConsumedRecord]) -> None:
    """Apply changelog records (None value = delete; null keys skipped) in one batch."""
    if not records:
        return
    changes: list[Change] = [(r.key, r.value) for r in records if r.key is not None]
    buffer.restore_batch(changes, records[-1].offset + 1)
