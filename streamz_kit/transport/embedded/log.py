"""The embedded broker's operations: topics, append, fetch, group offsets, producer epochs.

One `Log` per transport; its admin, consumers and producers share it (and its topic cache).
Offsets are assigned inside the appending write transaction from `partitions.next_offset`,
so they are contiguous per partition even with several producing processes, and the end
offset never moves back when compaction deletes the newest records.

Records are stored in batches (batch_codec.py): one row per append call and partition, up to
MAX_RECORDS records, so SQLite's per-row cost is paid once per batch, not once per record.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from streamz_kit.errors import BrokerError, ConfigError, ProducerFencedError, UnknownTopicError
from streamz_kit.transport.embedded.batch_codec import Batch, DamagedBatch, Row, decode, pack
from streamz_kit.transport.embedded.cleaner import LogCleaner
from streamz_kit.transport.embedded.codec import encode_headers
from streamz_kit.transport.embedded.compaction import (
    compact_partition,
    delete_retention_ms,
    live_count,
)
from streamz_kit.transport.embedded.db import Database
from streamz_kit.transport.embedded.retention import validate_config
from streamz_kit.transport.port import PartitionState, ProducerRecord, TopicPartition, TopicSpec

_FETCH = (
    "SELECT base_offset, last_offset, count, payload FROM batches "
    "WHERE topic_id = ?1 AND partition = ?2 AND base_offset >= coalesce(("
    "SELECT base_offset FROM batches WHERE topic_id = ?1 AND partition = ?2 "
    "AND base_offset <= ?3 ORDER BY base_offset DESC LIMIT 1), ?3) "
    "ORDER BY base_offset"
)
_INSERT = (
    "INSERT INTO batches(topic_id, partition, base_offset, last_offset, count, payload, max_ts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_NEXT = "SELECT next_offset FROM partitions WHERE topic_id = ? AND partition = ?"
_SET_NEXT = (
    "UPDATE partitions SET next_offset = ?, bytes = bytes + ? WHERE topic_id = ? AND partition = ?"
)
_START = "SELECT start_offset FROM partitions WHERE topic_id = ? AND partition = ?"
_SET_GROUP = (
    "INSERT OR REPLACE INTO group_offsets(group_id, topic, partition, offset) VALUES (?, ?, ?, ?)"
)


_LEGAL_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class OffsetOutOfRange(Exception):
    """A fetch asked for records before the log start offset (retention deleted them)."""

    def __init__(self, start_offset: int) -> None:
        super().__init__(start_offset)
        self.start_offset = start_offset


class TopicInfo(NamedTuple):
    id: int
    name: str
    partitions: int
    config: dict[str, str]

    @property
    def compacted(self) -> bool:
        return "compact" in self.config.get("cleanup.policy", "")


def compact_min_dirty() -> int:
    """`STREAMZ_LOG_COMPACT_MIN_DIRTY` (records; default 10,000): the least number of new
    records in a compacted partition before it is compacted again."""
    text = os.environ.get("STREAMZ_LOG_COMPACT_MIN_DIRTY", "").strip()
    if not text:
        return Log.compact_min_dirty
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(
            f"STREAMZ_LOG_COMPACT_MIN_DIRTY must be a positive whole number, not {text!r}."
        )
    return int(text)


class Log:
    """Compaction runs after an append once a compacted partition has taken as many new
    records as it held after its last compaction (at least `compact_min_dirty`), so its cost
    stays proportional to what was written."""

    compact_min_dirty = 10_000

    def __init__(self, path: str) -> None:
        self.path = path
        self.compact_min_dirty = compact_min_dirty()
        self.db = Database(path)
        self.groups_dir = os.path.join(path, "groups")
        self._topics: dict[str, TopicInfo] = {}
        self._dirty: dict[tuple[int, int], int] = {}
        self._compact_after: dict[tuple[int, int], int] = {}
        self.cleaner = LogCleaner(self)

    # -- topics ----------------------------------------------------------------------------
    def _lookup(self, conn: sqlite3.Connection, name: str) -> TopicInfo | None:
        row = conn.execute(
            "SELECT id, partitions, config FROM topics WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            self._topics.pop(name, None)
            return None
        info = TopicInfo(row[0], name, row[1], json.loads(row[2]))
        self._topics[name] = info
        return info

    def topic(self, name: str, *, refresh: bool = False) -> TopicInfo | None:
        info = None if refresh else self._topics.get(name)
        return info if info is not None else self.db.read(lambda c: self._lookup(c, name))

    def unknown_topics_error(self, names: Sequence[str]) -> UnknownTopicError:
        listed = ", ".join(repr(n) for n in names)
        first = names[0] if names else "TOPIC"
        noun = "Topic" if len(names) == 1 else "Topics"
        verb = "does" if len(names) == 1 else "do"
        return UnknownTopicError(
            f"{noun} {listed} {verb} not exist on the embedded broker at {self.path}; create "
            f"them first, e.g. with `streamz-kit produce {first}` or Admin.create_topics()."
        )

    def create_topics(self, conn: sqlite3.Connection, specs: Sequence[TopicSpec]) -> None:
        for spec in specs:
            if not _LEGAL_TOPIC.match(spec.name) or spec.name in (".", ".."):
                raise ConfigError(
                    f"Topic name {spec.name!r} is not one Kafka accepts: use 1 to 249 letters, "
                    "digits, '.', '_' or '-', so the same app runs on the embedded broker and "
                    "on Kafka."
                )
            if spec.partitions < 1:
                raise ConfigError(
                    f"Topic '{spec.name}' needs at least one partition, not {spec.partitions}."
                )
            config = validate_config(spec.name, spec.config)
            if self._lookup(conn, spec.name) is not None:
                continue
            cur = conn.execute(
                "INSERT INTO topics(name, partitions, config) VALUES (?, ?, ?)",
                (spec.name, spec.partitions, json.dumps(config, sort_keys=True)),
            )
            conn.executemany(
                "INSERT INTO partitions(topic_id, partition, next_offset) VALUES (?, ?, 0)",
                [(cur.lastrowid, p) for p in range(spec.partitions)],
            )
            self._topics.pop(spec.name, None)

    def alter_config(
        self, conn: sqlite3.Connection, name: str, changes: dict[str, str | None]
    ) -> dict[str, str]:
        """Set (or, with None, remove back to the default) topic configs; returns the new
        config. Validated as a whole, so a bad value changes nothing."""
        info = self._lookup(conn, name)
        if info is None:
            raise self.unknown_topics_error([name])
        config = dict(info.config)
        for key, value in changes.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        config = validate_config(name, config)
        conn.execute(
            "UPDATE topics SET config = ? WHERE id = ?",
            (json.dumps(config, sort_keys=True), info.id),
        )
        self._topics.pop(name, None)
        return config

    def delete_topics(self, conn: sqlite3.Connection, names: Iterable[str]) -> None:
        for name in names:
            info = self._lookup(conn, name)
            self._topics.pop(name, None)
            if info is None:
                continue
            conn.execute("DELETE FROM batches WHERE topic_id = ?", (info.id,))
            conn.execute("DELETE FROM partitions WHERE topic_id = ?", (info.id,))
            conn.execute("DELETE FROM topics WHERE id = ?", (info.id,))
            conn.execute("DELETE FROM group_offsets WHERE topic = ?", (name,))

    def list_topics(self) -> list[str]:
        rows = self.db.read(lambda c: c.execute("SELECT name FROM topics ORDER BY name").fetchall())
        return [r[0] for r in rows]

    def describe(self, names: Sequence[str]) -> list[PartitionState]:
        """Log start offset, end offset and retained bytes of every partition of `names`."""
        wanted = list(names)

        def read(conn: sqlite3.Connection) -> list[PartitionState]:
            out = []
            for name in wanted:
                info = self._lookup(conn, name)
                if info is None:
                    continue
                for partition, start, end, size in conn.execute(
                    "SELECT partition, start_offset, next_offset, bytes FROM partitions "
                    "WHERE topic_id = ? ORDER BY partition",
                    (info.id,),
                ):
                    out.append(PartitionState(name, partition, start, end, size))
            return out

        return self.db.read(read)

    def file_bytes(self) -> int:
        """Bytes the log takes on disk: the database and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.path.getsize(self.db.db_path + suffix)
            except OSError:
                pass
        return total

    # -- offsets ---------------------------------------------------------------------------
    def require(self, conn: sqlite3.Connection, tp: TopicPartition) -> TopicInfo:
        return self._require(conn, tp)

    def _require(self, conn: sqlite3.Connection, tp: TopicPartition) -> TopicInfo:
        info = self._topics.get(tp.topic) or self._lookup(conn, tp.topic)
        if info is None:
            raise self.unknown_topics_error([tp.topic])
        if not 0 <= tp.partition < info.partitions:
            raise UnknownTopicError(
                f"Topic '{tp.topic}' has {info.partitions} partition(s); partition "
                f"{tp.partition} does not exist on the embedded broker at {self.path}."
            )
        return info

    def end_offset(self, conn: sqlite3.Connection, tp: TopicPartition) -> int:
        info = self._require(conn, tp)
        row = conn.execute(_NEXT, (info.id, tp.partition)).fetchone()
        if row is None:  # deleted by another process since we cached it
            info = self._lookup(conn, tp.topic) or self._require(conn, tp)
            row = conn.execute(_NEXT, (info.id, tp.partition)).fetchone()
        return int(row[0]) if row else 0

    def earliest_offset(self, conn: sqlite3.Connection, tp: TopicPartition) -> int:
        """The log start offset (retention and delete_records move it), or the first offset
        still present when compaction removed the records after it."""
        info = self._require(conn, tp)
        row = conn.execute(
            "SELECT max(start_offset, coalesce((SELECT min(base_offset) FROM batches "
            "WHERE topic_id = ?1 AND partition = ?2), next_offset)) FROM partitions "
            "WHERE topic_id = ?1 AND partition = ?2",
            (info.id, tp.partition),
        ).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    def end_offsets_by_id(self) -> dict[tuple[int, int], int]:
        """Every partition's end offset, keyed (topic id, partition), in one statement: a
        consumer checks this first and reads only the partitions that have something new,
        so an idle or lightly fed poll costs one query, not one per partition."""
        rows = self.db.read(
            lambda c: c.execute(
                "SELECT topic_id, partition, next_offset FROM partitions"
            ).fetchall()
        )
        return {(t, p): o for t, p, o in rows}

    def fetch(
        self, topic_id: int, partition: int, start: int, limit: int
    ) -> tuple[list[Batch], Batch | None]:
        """Up to `limit` records from offset `start` on, as decoded batches; and the decoded
        rest of the last batch beyond `limit` (None if none), which a consumer may keep to
        serve its next fetch without decoding the batch again. OffsetOutOfRange when `start`
        lies before the log start offset."""

        def read(conn: sqlite3.Connection) -> list[tuple[int, int, int, bytes]]:
            first = conn.execute(_START, (topic_id, partition)).fetchone()
            if first is not None and first[0] > start:
                raise OffsetOutOfRange(int(first[0]))
            rows = []
            wanted = limit
            cur = conn.execute(_FETCH, (topic_id, partition, start))
            try:
                for row in cur:
                    if row[1] < start:  # the batch before `start` ends in a gap
                        continue
                    rows.append(row)
                    wanted -= row[2]
                    if wanted <= 0:
                        break
            finally:
                cur.close()  # an unfinished statement would hold its read snapshot open
            return rows

        out: list[Batch] = []
        rest: Batch | None = None
        for base, last, count, payload in self.db.read(read):
            batch = self.decode(payload, base, last, count, topic_id, partition)
            if base < start:
                batch = batch.cut(bisect_left(batch.offsets, start))
            n = len(batch.offsets)
            if n > limit:
                rest = batch.cut(limit)
                batch = batch.cut(0, limit)
                n = limit
            out.append(batch)
            limit -= n
        return out, rest

    def decode(
        self,
        payload: bytes,
        base: int,
        last: int,
        count: int,
        topic_id: int,
        partition: int,
        *,
        headers: bool = True,
        keys_only: bool = False,
        select: Sequence[int] | None = None,
    ) -> Batch:
        """Decode one stored batch (or, with `select`, the records at those offsets), or say
        in a BrokerError which one is damaged."""
        try:
            batch = decode(
                payload,
                base,
                headers=headers,
                where=(topic_id, partition),
                keys_only=keys_only,
                select=select,
            )
            if select is None and (len(batch.offsets) != count or batch.offsets[-1] != last):
                raise DamagedBatch("its offsets do not match its row")
        except DamagedBatch as exc:
            name = next((t.name for t in self._topics.values() if t.id == topic_id), f"#{topic_id}")
            raise BrokerError(
                f"The batch at offsets {base}-{last} of {name}[{partition}] in the embedded "
                f"log at {self.db.db_path} is damaged ({exc}); restore the log from a backup, "
                "or delete the broker directory to start an empty log."
            ) from exc
        return batch

    # -- appending -------------------------------------------------------------------------
    def append(
        self,
        conn: sqlite3.Connection,
        records: Sequence[ProducerRecord],
        group_offsets: dict[str, dict[TopicPartition, int]],
        fence: tuple[str, int] | None,
    ) -> dict[TopicPartition, int]:
        """Runs inside one write transaction: records, then group offsets, all or nothing."""
        if fence is not None:
            self.check_epoch(conn, *fence)
        groups: dict[tuple[str, int], list[ProducerRecord]] = {}
        for record in records:  # group by partition, keeping each partition's order
            tp = record[:2]
            group = groups.get(tp)
            if group is None:
                group = groups[tp] = []
            group.append(record)
        rows: list[Row] = []
        last: dict[TopicPartition, int] = {}
        written: dict[tuple[str, int], tuple[int, int]] = {}
        for (topic, partition), group in groups.items():
            tid, first = self._slot(conn, topic, partition)
            _, _, keys, values, tss, headers = zip(*group)
            if None in tss:
                now = int(time.time() * 1000)
                tss = tuple([now if ts is None else ts for ts in tss])
            blobs = [encode_headers(h) for h in headers] if any(headers) else None
            n = len(keys)
            packed = pack(range(first, first + n), tss, keys, values, blobs, (tid, partition))
            rows += packed
            size = sum([len(row[5]) for row in packed])
            conn.execute(_SET_NEXT, (first + n, size, tid, partition))
            last[TopicPartition(topic, partition)] = first + n - 1
            written[(topic, partition)] = (tid, n)
        conn.executemany(_INSERT, rows)
        for group_id, offsets in group_offsets.items():
            self.set_group_offsets(conn, group_id, offsets)
        self._note_dirty(written)
        return last

    def _slot(self, conn: sqlite3.Connection, topic: str, partition: int) -> tuple[int, int]:
        tp = TopicPartition(topic, partition)
        info = self._require(conn, tp)
        row = conn.execute(_NEXT, (info.id, partition)).fetchone()
        if row is None:  # the cached id is stale: the topic was deleted or recreated
            self._topics.pop(topic, None)
            info = self._require(conn, tp)
            row = conn.execute(_NEXT, (info.id, partition)).fetchone()
            if row is None:
                raise self.unknown_topics_error([topic])
        return info.id, int(row[0])

    def _note_dirty(self, written: dict[tuple[str, int], tuple[int, int]]) -> None:
        for (topic, partition), (tid, n) in written.items():
            info = self._topics.get(topic)
            if info is not None and info.compacted:
                key = (tid, partition)
                self._dirty[key] = self._dirty.get(key, 0) + n

    def due_for_compaction(self) -> list[tuple[TopicInfo, int]]:
        due = []
        for info in list(self._topics.values()):
            for partition in range(info.partitions):
                key = (info.id, partition)
                threshold = self._compact_after.get(key, self.compact_min_dirty)
                if self._dirty.get(key, 0) >= threshold:
                    due.append((info, partition))
        return due

    def compact(self, conn: sqlite3.Connection, info: TopicInfo, partition: int) -> int:
        deleted = compact_partition(
            conn, info.id, partition, delete_retention_ms(info.config), self.decode
        )
        conn.execute(
            "UPDATE partitions SET bytes = (SELECT coalesce(sum(length(payload)), 0) FROM "
            "batches WHERE topic_id = ?1 AND partition = ?2) WHERE topic_id = ?1 AND partition = ?2",
            (info.id, partition),
        )
        key = (info.id, partition)
        self._dirty[key] = 0
        self._compact_after[key] = max(self.compact_min_dirty, live_count(conn, info.id, partition))
        return deleted

    async def compact_async(self, info: TopicInfo, partition: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            return self.compact(conn, info, partition)

        return await self.db.awrite(run)

    # -- groups and producers --------------------------------------------------------------
    @staticmethod
    def set_group_offsets(
        conn: sqlite3.Connection, group_id: str, offsets: dict[TopicPartition, int]
    ) -> None:
        conn.executemany(
            _SET_GROUP, [(group_id, tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        )

    def committed(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        wanted = list(partitions)

        def read(conn: sqlite3.Connection) -> dict[TopicPartition, int]:
            out: dict[TopicPartition, int] = {}
            for tp in wanted:
                row = conn.execute(
                    "SELECT offset FROM group_offsets "
                    "WHERE group_id = ? AND topic = ? AND partition = ?",
                    (group_id, tp.topic, tp.partition),
                ).fetchone()
                if row is not None:
                    out[TopicPartition(tp.topic, tp.partition)] = int(row[0])
            return out

        return self.db.read(read)

    def bump_epoch(self, transactional_id: str) -> int:
        """Start a producer generation; every older producer with this id is fenced from now."""

        def bump(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT epoch FROM producer_epochs WHERE transactional_id = ?",
                (transactional_id,),
            ).fetchone()
            epoch = 0 if row is None else int(row[0]) + 1
            conn.execute(
                "INSERT OR REPLACE INTO producer_epochs(transactional_id, epoch) VALUES (?, ?)",
                (transactional_id, epoch),
            )
            return epoch

        return self.db.write(bump)

    @staticmethod
    def check_epoch(conn: sqlite3.Connection, transactional_id: str, epoch: int) -> None:
        row = conn.execute(
            "SELECT epoch FROM producer_epochs WHERE transactional_id = ?", (transactional_id,)
        ).fetchone()
        if row is None or int(row[0]) != epoch:
            raise ProducerFencedError(
                f"A newer producer with transactional id '{transactional_id}' has started, so "
                "this one was fenced and its transaction was not committed; close it and "
                "let the newer one carry on."
            )
