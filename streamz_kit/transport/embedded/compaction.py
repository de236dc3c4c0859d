"""Log compaction for topics with cleanup.policy=compact (changelogs, tables).

Keeps the latest record of every key in a partition and deletes the ones it supersedes.
Offsets are never renumbered: readers skip the gaps, because fetch asks for `offset >= pos`
(a batch stores each record's offset). A tombstone (null value) that is the latest for its
key is deleted too once its timestamp is older than the topic's `delete.retention.ms`
(default one day, as in Kafka), so a reader that saw the key's old value still has a day to
see the delete. Records with a null key are never compacted away (Kafka rejects them on
compacted topics; we keep them).

Two passes over the partition's batches, so memory holds one key -> offset map, not every
record: the first decodes only offsets, keys and value lengths and finds the latest offset of
each key (and which of those are tombstones old enough to go); from that, the sorted offsets
that survive. The second pass finds each batch's survivors by bisecting that list, with no
work per record: a batch that keeps nothing is deleted unread, a full batch that loses
nothing stays as it is, and any other batch is rewritten from its survivors alone (only
they are sliced out of it), merged with small neighbours into batches of up to MAX_RECORDS.
Changelogs written at every exactly_once commit lose most of their records at each
compaction, so the second pass costs about what the survivors cost.
"""

from __future__ import annotations

import sqlite3
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import compress
from typing import cast

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
    keyless: list[int] = []  # offsets of null-key records: never compacted away
    tombstones: list[tuple[int, int]] = []  # (offset, timestamp) of null-value records
    spans: list[tuple[int, int, int]] = []
    for base, last, count, payload in conn.execute(_BATCHES, (topic_id, partition)):
        batch = decode(payload, base, last, count, topic_id, partition, keys_only=True)
        keys, offsets = batch.keys, batch.offsets
        vlens = cast("Sequence[int]", batch.values)  # keys_only: the value lengths
        latest.update(zip(keys, offsets))  # later offsets overwrite earlier
        if None in keys:
            keyless.extend(compress(offsets, [k is None for k in keys]))
        if min(vlens) < 0:
            nulls = [v < 0 for v in vlens]
            tombstones.extend(zip(compress(offsets, nulls), compress(batch.timestamps, nulls)))
        spans.append((base, last, count))
    latest.pop(None, None)
    if not latest:
        return 0
    alive = set(latest.values())
    horizon = int(time.time() * 1000) - retention_ms
    alive.difference_update([o for o, ts in tombstones if ts < horizon])
    alive.update(keyless)  # a keyless tombstone stays too
    survivors = sorted(alive)
    del latest, alive, tombstones, keyless
    pending = _Pending()
    deleted = 0
    for base, last, count in spans:  # rows are rewritten, so no cursor stays open on them
        lo = bisect_left(survivors, base)
        hi = bisect_right(survivors, last, lo)
        kept = hi - lo
        if kept == count and count >= MAX_RECORDS // 2:
            pending.flush(conn, topic_id, partition)  # keep the order of non-overlapping rows
            continue
        deleted += count - kept
        if kept:
            (payload,) = conn.execute(_PAYLOAD, (topic_id, partition, base)).fetchone()
            batch = decode(payload, base, last, count, topic_id, partition, select=survivors[lo:hi])
            pending.add(batch)
        conn.execute(_DELETE, (topic_id, partition, base))
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

    def add(self, batch: Batch) -> None:
        self.offsets.extend(batch.offsets)
        self.timestamps.extend(batch.timestamps)
        self.keys.extend(batch.keys)
        self.values.extend(batch.values)
        if batch.headers is None:
            self.headers.extend([None] * (len(self.offsets) - len(self.headers)))
        else:
            self.headers.extend(batch.headers)

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
