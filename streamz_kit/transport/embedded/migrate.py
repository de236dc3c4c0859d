"""Schema 1 -> 2: one row per record (table `records`) becomes one row per batch.
Schema 2 -> 3: partitions gain their log start offset and size, batches their newest
timestamp (left NULL for old batches: retention.py reads those from the payload once).

Runs once, at open, inside the write transaction that checks the schema, so a crash midway
leaves the old schema untouched and the next open starts over. Each partition's records are
read in offset order and packed into batches of up to MAX_RECORDS, keeping every offset
(gaps left by compaction included), timestamp, key, value and header blob as they were.
"""

from __future__ import annotations

import sqlite3

from streamz_kit.transport.embedded.batch_codec import MAX_RECORDS, pack

_INSERT = (
    "INSERT INTO batches(topic_id, partition, base_offset, last_offset, count, payload, max_ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_RECORDS = (
    "SELECT offset, ts, key, value, headers FROM records "
    "WHERE topic_id = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?"
)


def has_records_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'"
    ).fetchone()
    return row is not None


def records_to_batches(conn: sqlite3.Connection) -> int:
    """Move every record of table `records` into `batches`, then drop `records`; returns
    how many records moved. The caller holds the write transaction."""
    moved = 0
    parts = conn.execute("SELECT DISTINCT topic_id, partition FROM records").fetchall()
    for topic_id, partition in parts:
        start = 0
        while True:
            rows = conn.execute(_RECORDS, (topic_id, partition, start, MAX_RECORDS)).fetchall()
            if not rows:
                break
            offsets, timestamps, keys, values, headers = (list(c) for c in zip(*rows))
            blobs = headers if any(headers) else None
            where = (topic_id, partition)
            conn.executemany(_INSERT, pack(offsets, timestamps, keys, values, blobs, where))
            moved += len(rows)
            start = offsets[-1] + 1
    conn.execute("DROP TABLE records")
    return moved


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def add_retention_columns(conn: sqlite3.Connection) -> None:
    """Add schema 3's columns to tables an older schema created (ALTER TABLE: O(1))."""
    have = _columns(conn, "partitions")
    if "start_offset" not in have:
        conn.execute("ALTER TABLE partitions ADD COLUMN start_offset INTEGER NOT NULL DEFAULT 0")
    if "bytes" not in have:
        conn.execute("ALTER TABLE partitions ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0")
    if "max_ts" not in _columns(conn, "batches"):
        conn.execute("ALTER TABLE batches ADD COLUMN max_ts INTEGER")


def fill_retention_columns(conn: sqlite3.Connection) -> None:
    """Each partition's size, and a log start offset where the old log began: its first
    batch (compaction may have removed earlier ones), else its end offset."""
    conn.execute(
        "UPDATE partitions SET "
        "bytes = (SELECT coalesce(sum(length(payload)), 0) FROM batches b "
        "WHERE b.topic_id = partitions.topic_id AND b.partition = partitions.partition), "
        "start_offset = coalesce((SELECT min(base_offset) FROM batches b "
        "WHERE b.topic_id = partitions.topic_id AND b.partition = partitions.partition), "
        "next_offset)"
    )
