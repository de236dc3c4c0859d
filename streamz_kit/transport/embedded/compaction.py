"""Log compaction for topics with cleanup.policy=compact (changelogs, tables).

Keeps the latest record of every key in a partition and deletes the ones it supersedes.
Offsets are never renumbered: readers skip the gaps, because fetch asks for `offset >= pos`.
A tombstone (null value) that is the latest for its key is deleted too once its timestamp is
older than the topic's `delete.retention.ms` (default one day, as in Kafka), so a reader
that saw the key's old value still has a day to see the delete. Records with a null key are
never compacted away (Kafka rejects them on compacted topics; we keep them).
"""

from __future__ import annotations

import sqlite3
import time

DEFAULT_DELETE_RETENTION_MS = 86_400_000

_SUPERSEDED = """
DELETE FROM records
WHERE topic_id = ?1 AND partition = ?2 AND key IS NOT NULL
  AND offset NOT IN (
    SELECT MAX(offset) FROM records
    WHERE topic_id = ?1 AND partition = ?2 AND key IS NOT NULL
    GROUP BY key
  )
"""

_OLD_TOMBSTONES = """
DELETE FROM records
WHERE topic_id = ?1 AND partition = ?2 AND key IS NOT NULL AND value IS NULL AND ts < ?3
"""


def delete_retention_ms(config: dict[str, str]) -> int:
    try:
        return int(config.get("delete.retention.ms", DEFAULT_DELETE_RETENTION_MS))
    except ValueError:
        return DEFAULT_DELETE_RETENTION_MS


def compact_partition(
    conn: sqlite3.Connection, topic_id: int, partition: int, retention_ms: int
) -> int:
    """Run inside a write transaction; returns how many records were deleted.

    The superseded pass runs first, so every tombstone left afterwards is the latest
    record of its key and deleting it cannot resurrect an older value.
    """
    deleted = conn.execute(_SUPERSEDED, (topic_id, partition)).rowcount
    horizon = int(time.time() * 1000) - retention_ms
    deleted += conn.execute(_OLD_TOMBSTONES, (topic_id, partition, horizon)).rowcount
    return int(deleted)


def live_count(conn: sqlite3.Connection, topic_id: int, partition: int) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM records WHERE topic_id = ? AND partition = ?",
        (topic_id, partition),
    ).fetchone()
    return int(row[0])
