"""Log compaction for topics with cleanup.policy=compact (changelogs, tables).

Keeps the latest record of every key in a partition and deletes the ones it supersedes.
Offsets are never renumbered: readers skip the gaps, because fetch asks for `offset >= pos`
(a batch stores each record's offset). A tombstone (null value) that is the latest for its
key is deleted too once its timestamp is older than the topic's `delete.retention.ms`
(default one day, as in Kafka), so a reader that saw the key's old value still has a day to
see the delete. Records with a null key are never compacted away (Kafka rejects them on
compacted topics; we keep them).

Two passes over the partition's batches, so memory holds one key -> offset map, not every
record: the first finds the latest offset of each key, the second rewrites the batches that
lose records, merging them with small neighbours into batches of up to MAX_RECORDS. A full
batch that loses nothing stays as it is.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from itertools import compress
from typing import Any

from streamz_kit.transport.embedded.batch_codec import MAX_RECORDS, Batch, pack

DEFAULT_DELETE_RETENTION_MS = 86_400_000

# (payload, base, last, count, topic_id, partition) -> Batch; raises BrokerError if damaged
Decoder = Callable[..., Batch]

_BATCHES = (
    "SELECT base_offset, last_offset, count, payload FROM batches "
    "WHERE topic_id = ? AND partition = ? ORDER BY base_offset"
)
_INSERT = (
    "INSERT INTO batches(topic_id, partition, base_offset, last_offset, count, payload, max_ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_PAYLOAD = "SELECT payload FROM batches WHERE topic_id = ? AND partition = ? AND base_offset = ?"
_DELETE = "DELETE FROM batches WHERE topic_id = ? AND partition = ? AND base_offset = ?"


def delete_retention_ms(config: dict[str, str]) -> int:
    try:
        return int(config.get("delete.retention.ms", DEFAULT_DELETE_RETENTION_MS))
    except ValueError:
        return DEFAULT_DELETE_RETENTION_MS


def compact_partition(
    conn: sqlite3.Connection, topic_id: int, partition: int, retention_ms: int, decode: Decoder
) -> int:
    """Run inside a write transaction; returns how many records were deleted.

    Only a key's latest record survives, so every tombstone left is the latest of its key
    and deleting it once old cannot resurrect an older value.
    """

    latest: dict[bytes | None, int] = {}
    spans: list[tuple[int, int, int]] = []
    for base, last, count, payload in conn.execute(_BATCHES, (topic_id, partition)):
        batch = decode(payload, base, last, count, topic_id, partition, keys_only=True)
        latest.update(zip(batch.keys, batch.offsets))  # later offsets overwrite earlier
        spans.append((base, last, count))
    latest.pop(None, None)
    if not latest:
        return 0
    horizon = int(time.time() * 1000) - retention_ms
    get = latest.get
    pending = _Pending()
    deleted = 0
    for base, last, count in spans:  # rows are rewritten, so no cursor stays open on them
        (payload,) = conn.execute(_PAYLOAD, (topic_id, partition, base)).fetchone()
        batch = decode(payload, base, last, count, topic_id, partition, headers=False)
        keep = [
            k is None or (get(k) == o and (v is not None or ts >= horizon))
            for o, ts, k, v in zip(batch.offsets, batch.timestamps, batch.keys, batch.values)
        ]
        kept = sum(keep)
        if kept == count and count >= MAX_RECORDS // 2:
            pending.flush(conn, topic_id, partition)  # keep the order of non-overlapping rows
            continue
        deleted += count - kept
        conn.execute(_DELETE, (topic_id, partition, base))
        if kept:
            pending.add(batch, keep if kept < count else None)
        if len(pending.offsets) >= MAX_RECORDS:
            pending.flush(conn, topic_id, partition)
    pending.flush(conn, topic_id, partition)
    return deleted


class _Pending:
    """Surviving records of rewritten batches, waiting to be packed into new ones."""

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.timestamps: list[int] = []
        self.keys: list[bytes | None] = []
        self.values: list[bytes | None] = []
        self.headers: list[bytes | None] = []

    def add(self, batch: Batch, keep: list[bool] | None) -> None:
        def pick(column: Any) -> Any:
            return column if keep is None else compress(column, keep)

        self.offsets.extend(pick(batch.offsets))
        self.timestamps.extend(pick(batch.timestamps))
        self.keys.extend(pick(batch.keys))
        self.values.extend(pick(batch.values))
        if batch.headers is None:
            self.headers.extend([None] * (len(self.offsets) - len(self.headers)))
        else:
            self.headers.extend(pick(batch.headers))

    def flush(self, conn: sqlite3.Connection, topic_id: int, partition: int) -> None:
        if not self.offsets:
            return
        blobs = self.headers if any(self.headers) else None
        rows = pack(
            self.offsets, self.timestamps, self.keys, self.values, blobs, (topic_id, partition)
        )
        conn.executemany(_INSERT, rows)
        self.__init__()  # type: ignore[misc]


def live_count(conn: sqlite3.Connection, topic_id: int, partition: int) -> int:
    row = conn.execute(
        "SELECT SUM(count) FROM batches WHERE topic_id = ? AND partition = ?",
        (topic_id, partition),
    ).fetchone()
    return int(row[0] or 0)
