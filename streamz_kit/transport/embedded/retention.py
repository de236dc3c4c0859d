"""Retention of the embedded log, as Kafka defines it: time, size and deleted records.

Topic configs, with Kafka's names and defaults:
- `cleanup.policy`: `delete` (default), `compact`, or `compact,delete` (both).
- `retention.ms`: keep a batch until its newest record is older than this (default 7 days;
  -1 keeps forever). Kafka's rule: a segment goes once `now - largest timestamp > retention.ms`.
- `retention.bytes`: per partition, delete the oldest batches while the partition would still
  hold at least this many bytes without them (default -1: no size limit). Kafka's rule.
Both apply only when the policy includes `delete`; `compact` alone never deletes by age or
size (compaction.py keeps the latest record of each key).

Granularity: Kafka deletes whole segments (1 GB or 7 days by default); the embedded log
deletes whole batches (one append call and partition, at most 2,000 records or ~1 MB), a much
finer grain, so data lives at most one batch's span past its retention. As in Kafka, the
walk goes oldest first and stops at the first batch that must stay: a batch stamped in the
future holds back the ones after it. As in Kafka, the last batch is not special: once all
of a partition's records are past retention the partition becomes empty and its log start
offset equals its end offset (Kafka rolls a new empty active segment for this).

The log start offset (`partitions.start_offset`) moves forward only: past deleted batches,
or to the offset asked by `delete_records` (Kafka's DeleteRecords, which Kafka Streams calls
on repartition topics after each commit). That offset may fall inside a batch; reads never
return records before it, and the batch itself goes once all of it lies before it.

Every deletion runs inside the caller's write transaction, so a crash (even SIGKILL between
two statements) leaves either the old log or the new one. Freed pages are given back to the
file system by `reclaim` (SQLite's incremental vacuum), again one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import NamedTuple

from streamz_kit.errors import BrokerError, ConfigError
from streamz_kit.faults import maybe_crash
from streamz_kit.transport.embedded.batch_codec import Batch

DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # Kafka's retention.ms (log.retention.hours=168)
DEFAULT_RETENTION_BYTES = -1  # Kafka's retention.bytes: no size limit
# Pages given back per vacuum transaction (2 MiB at 16 KiB pages). A transaction holds the
# log's write lock and, in the process running it, the event loop: 1,024 pages took ~0.5 s
# on the soak's 800 MB log under load; 128 keep each hold short (the cleaner pauses between).
RECLAIM_PAGES = 128

# (payload, base, last, count, topic_id, partition, headers=False) -> Batch
Decoder = Callable[..., Batch]

_OLDEST = (
    "SELECT base_offset, last_offset, count, length(payload), max_ts FROM batches "
    "WHERE topic_id = ? AND partition = ? ORDER BY base_offset LIMIT ? OFFSET ?"
)
_DELETE_UPTO = (
    "DELETE FROM batches WHERE topic_id = ? AND partition = ? AND base_offset <= ? "
    "AND last_offset <= ?"
)
_SIZE_OF = (
    "SELECT coalesce(sum(length(payload)), 0), count(*) FROM batches "
    "WHERE topic_id = ? AND partition = ? AND base_offset <= ? AND last_offset <= ?"
)
_PARTITION = (
    "SELECT start_offset, next_offset, bytes FROM partitions WHERE topic_id = ? AND partition = ?"
)
_NTH_BATCH = (
    "SELECT base_offset FROM batches WHERE topic_id = ? AND partition = ? "
    "ORDER BY base_offset LIMIT 1 OFFSET ?"
)
_MOVE_START = (
    "UPDATE partitions SET start_offset = max(start_offset, ?), bytes = max(bytes - ?, 0) "
    "WHERE topic_id = ? AND partition = ?"
)

_POLICIES = {"delete", "compact"}


class Retention(NamedTuple):
    delete: bool  # the policy includes `delete`
    ms: int  # -1: no time limit
    bytes: int  # -1: no size limit


class Removed(NamedTuple):
    batches: int
    records: int
    bytes: int
    start_offset: int


def _whole_number(topic: str, key: str, value: object, *, least: int, hint: str) -> int:
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or not text.lstrip("-").isdigit():
        raise ConfigError(
            f"Topic {topic!r}: {key} must be a whole number ({hint}), not {value!r}; "
            f"e.g. --config {key}={_EXAMPLES[key]}."
        )
    if number < least:
        raise ConfigError(
            f"Topic {topic!r}: {key} must be at least {least} ({hint}), not {number}; "
            f"e.g. --config {key}={_EXAMPLES[key]}."
        )
    return number


_EXAMPLES = {
    "retention.ms": "604800000",
    "retention.bytes": "1073741824",
    "delete.retention.ms": "86400000",
}
_HINTS = {
    "retention.ms": "milliseconds, -1 to keep records forever",
    "retention.bytes": "bytes per partition, -1 for no size limit",
    "delete.retention.ms": "milliseconds a tombstone stays after compaction",
}
_LEAST = {"retention.ms": -1, "retention.bytes": -1, "delete.retention.ms": 0}


def validate_config(topic: str, config: Mapping[str, object]) -> dict[str, str]:
    """The topic config as strings, or a ConfigError naming the bad setting.

    Settings we do not act on are kept as given (Kafka topics carry many), so a topic
    created for Kafka keeps its configs here."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"Topic {topic!r}: a config name must be a non-empty string.")
        if value is None:
            raise ConfigError(f"Topic {topic!r}: {key} has no value; give it one (key=value).")
        if key in _LEAST:
            out[key] = str(_whole_number(topic, key, value, least=_LEAST[key], hint=_HINTS[key]))
        elif key == "cleanup.policy":
            parts = [p.strip() for p in str(value).split(",")]
            if not parts or any(p not in _POLICIES for p in parts):
                raise ConfigError(
                    f"Topic {topic!r}: cleanup.policy must be 'delete', 'compact' or "
                    f"'compact,delete', not {value!r}."
                )
            out[key] = ",".join(sorted(set(parts)))
        else:
            out[key] = str(value)
    return out


def retention_of(config: Mapping[str, str]) -> Retention:
    """Kafka's defaults for what the config leaves out (configs were validated when set)."""
    policy = config.get("cleanup.policy", "delete")
    return Retention(
        delete="delete" in policy,
        ms=int(config.get("retention.ms", DEFAULT_RETENTION_MS)),
        bytes=int(config.get("retention.bytes", DEFAULT_RETENTION_BYTES)),
    )


def enforce(
    conn: sqlite3.Connection,
    topic_id: int,
    partition: int,
    retention: Retention,
    now_ms: int,
    decode: Decoder,
) -> Removed:
    """Delete the batches of one partition that time or size retention allows; run inside a
    write transaction. Returns what went and the new log start offset."""
    row = conn.execute(_PARTITION, (topic_id, partition)).fetchone()
    if row is None:
        return Removed(0, 0, 0, 0)
    start, end, size = (int(v) for v in row)
    if not retention.delete or (retention.ms < 0 and retention.bytes < 0):
        return Removed(0, 0, 0, start)
    # Walk oldest first; stop at the first batch neither rule may take (Kafka's order).
    excess = size - retention.bytes if retention.bytes >= 0 else -1
    upto = -1  # last offset of the last batch to delete
    batches = records = freed = 0
    skip = 0
    while True:
        page = conn.execute(_OLDEST, (topic_id, partition, 256, skip)).fetchall()
        if not page:
            break
        stop = False
        for base, last, count, nbytes, max_ts in page:
            if max_ts is None:  # a batch written before schema 3: read its timestamps
                (payload,) = conn.execute(
                    "SELECT payload FROM batches WHERE topic_id = ? AND partition = ? "
                    "AND base_offset = ?",
                    (topic_id, partition, base),
                ).fetchone()
                max_ts = max(
                    decode(
                        payload, base, last, count, topic_id, partition, headers=False
                    ).timestamps
                )
            expired = retention.ms >= 0 and now_ms - max_ts > retention.ms
            oversize = excess >= 0 and excess - nbytes >= 0
            if not (expired or oversize):
                stop = True
                break
            if excess >= 0:
                excess -= nbytes
            upto = last
            batches += 1
            records += count
            freed += nbytes
        if stop:
            break
        skip += len(page)
    if upto < 0:
        return Removed(0, 0, 0, start)
    conn.execute(_DELETE_UPTO, (topic_id, partition, upto, upto))
    maybe_crash("cleanup:after_delete")  # inside the transaction: a kill here keeps all
    new_start = min(max(start, upto + 1), end)
    conn.execute(_MOVE_START, (new_start, freed, topic_id, partition))
    return Removed(batches, records, freed, max(start, new_start))


def delete_before(
    conn: sqlite3.Connection, topic_id: int, partition: int, offset: int, where: str
) -> int:
    """Kafka's DeleteRecords: move the log start offset to `offset` (-1: the end offset) and
    delete the batches wholly before it; returns the new log start offset. Run inside a
    write transaction. An offset past the end is refused, as Kafka refuses it."""
    row = conn.execute(_PARTITION, (topic_id, partition)).fetchone()
    if row is None:
        raise BrokerError(f"Partition {where} does not exist on the embedded broker.")
    start, end, _ = (int(v) for v in row)
    target = end if offset == -1 else offset
    if target < 0 or target > end:
        raise BrokerError(
            f"Cannot delete the records of {where} before offset {offset}: its end offset "
            f"is {end}. Give an offset between 0 and {end} (or -1 for the end)."
        )
    if target <= start:
        return start
    freed, _ = conn.execute(_SIZE_OF, (topic_id, partition, target - 1, target - 1)).fetchone()
    conn.execute(_DELETE_UPTO, (topic_id, partition, target - 1, target - 1))
    maybe_crash("cleanup:after_purge")  # inside the transaction: a kill here keeps all
    conn.execute(_MOVE_START, (target, int(freed), topic_id, partition))
    return target


def purge_target(conn: sqlite3.Connection, topic_id: int, partition: int, offset: int) -> int:
    """The offset a DeleteRecords of `offset` (-1: the end) moves the start to, checked as
    `delete_before` checks it, without deleting anything."""
    row = conn.execute(_PARTITION, (topic_id, partition)).fetchone()
    if row is None:
        raise BrokerError(
            f"Partition {topic_id}/{partition} does not exist on the embedded broker."
        )
    end = int(row[1])
    target = end if offset == -1 else offset
    if target < 0 or target > end:
        raise BrokerError(
            f"Cannot delete records before offset {offset}: the partition's end offset is "
            f"{end}. Give an offset between 0 and {end} (or -1 for the end)."
        )
    return target


def purge_step(
    conn: sqlite3.Connection, topic_id: int, partition: int, target: int, max_batches: int
) -> int:
    """Where a DeleteRecords towards `target` should stop so that one transaction deletes at
    most `max_batches` batches: the base offset of the batch after them, or `target`."""
    row = conn.execute(_NTH_BATCH, (topic_id, partition, max_batches)).fetchone()
    return target if row is None else min(target, int(row[0]))


def reclaim(conn: sqlite3.Connection, max_pages: int = RECLAIM_PAGES) -> int:
    """Give free pages back to the file system (PRAGMA incremental_vacuum); returns how many.
    Needs auto_vacuum=INCREMENTAL (db.py sets it); a no-op otherwise."""
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    if not free:
        return 0
    pages = min(int(free), max_pages)
    # The pragma frees one page per step of its statement, and Python's sqlite3 steps a
    # statement that returns no rows only once: run it once per page.
    vacuum = "PRAGMA incremental_vacuum(1)"
    for done in range(pages):
        conn.execute(vacuum)
        if done == pages // 2:
            maybe_crash("cleanup:vacuum")  # inside the transaction: a kill frees nothing
    return pages
