"""The embedded broker's database: one SQLite file in WAL mode under the broker directory.

Why SQLite in WAL mode: it ships with Python, never corrupts on a crash, lets readers run
while one writer commits, and lets several processes share the log (a worker, a generator
producing into it, a viewer consuming from it). Writers serialize on SQLite's write lock;
every write here is one short `BEGIN IMMEDIATE ... COMMIT`, never held across an `await`.

Why `synchronous=NORMAL`: in WAL mode a commit has written the transaction to the -wal
file with write(2) before COMMIT returns, so the operating system holds it even if the
process is killed at once (kill -9): no committed record or offset is lost when a worker
crashes, which is the failure an embedded broker must survive. What NORMAL gives up is the
last few commits on a power cut or kernel crash; FULL would prevent that with one fsync per
commit, which costs milliseconds each and would dominate a worker committing many times a
second. The database stays consistent in every case.

Files are made readable by their owner only: the directory 0700, the database 0600
(SQLite gives its -wal and -shm files the database file's mode).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from streamz_kit.errors import BrokerError, StreamzError
from streamz_kit.transport.embedded.checkpointer import BACKSTOP_PAGES, Checkpointer
from streamz_kit.transport.embedded.migrate import (
    add_retention_columns,
    fill_retention_columns,
    has_records_table,
    records_to_batches,
)

T = TypeVar("T")
_log = logging.getLogger("streamz_kit.embedded")

DB_NAME = "log.db"
# 1: one row per record in `records`; 2: one row per batch (migrate.py); 3: log start
# offsets, partition sizes and batch max timestamps for retention (retention.py)
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 50  # short: longer waits happen in our retry loop, which can yield to asyncio
RETRY_FOR_S = 30.0
WAL_LIMIT_BYTES = 64 << 20

# `batches` keeps a rowid (its primary key becomes an index): for rows holding 3-250 KB
# blobs that measured 1.3-2x faster to write and 1-4x faster to read than WITHOUT ROWID.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions(
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    start_offset INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches(
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    base_offset INTEGER NOT NULL,
    last_offset INTEGER NOT NULL,
    count INTEGER NOT NULL,
    payload BLOB NOT NULL,
    max_ts INTEGER,
    PRIMARY KEY(topic_id, partition, base_offset)
);
CREATE TABLE IF NOT EXISTS group_offsets(
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY(group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS producer_epochs(
    transactional_id TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL
) WITHOUT ROWID;
"""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc)
    return "locked" in text or "busy" in text


def _busy_error(path: str) -> BrokerError:
    return BrokerError(
        f"The embedded broker at {path} stayed locked by another process for "
        f"{RETRY_FOR_S:.0f} s; check for a stuck process using it, then retry."
    )


def make_private_dir(path: str) -> None:
    """Create `path` (and parents) owner-only, or say in a sentence why it cannot be used."""
    try:
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chmod(path, 0o700)
    except OSError as exc:
        raise BrokerError(
            f"The embedded broker cannot create its directory {path} ({exc.strerror or exc}); "
            "choose a writable location with broker='embedded://PATH'."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise BrokerError(
            f"The embedded broker directory {path} is not writable by this user; "
            "fix its permissions or choose another with broker='embedded://PATH'."
        )


class Database:
    """One connection to the log database, shared by every client of one transport.

    All statements run on the caller's thread, guarded by a lock, and no transaction spans an
    `await`, so the clients of one transport never interleave inside a transaction.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.db_path = os.path.join(path, DB_NAME)
        self._conn: sqlite3.Connection | None = None
        self._mutex = threading.RLock()
        self.local_writes = 0  # bumped on each commit of ours; PRAGMA data_version sees others'
        self._checkpointer: Checkpointer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        make_private_dir(self.path)
        try:
            fd = os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            conn = sqlite3.connect(
                self.db_path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=256,
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # Larger pages: fewer b-tree splits and WAL frames per batch. Only a new database
            # takes it, and only before it switches to WAL.
            # Each statement waits out a busy log (another process recovering the WAL after a
            # kill holds it briefly) instead of failing the open.
            pragma = self._pragma
            pragma(conn, "PRAGMA page_size=16384")
            # Pages freed by retention go back to the file system (retention.reclaim); a
            # new database takes it now, an older one is converted once below.
            pragma(conn, "PRAGMA auto_vacuum=INCREMENTAL")
            self._retry_sync(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
            pragma(conn, "PRAGMA synchronous=NORMAL")
            pragma(conn, "PRAGMA temp_store=MEMORY")
            pragma(conn, "PRAGMA cache_size=-32768")  # 32 MiB page cache
            # Checkpoints run in a thread of their own (checkpointer.py); this one is only
            # the backstop, so no client's write stops to copy the log.
            pragma(conn, f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            # After a checkpoint the -wal file is cut back to this size, so a burst of writes
            # (a vacuum) does not leave it large for good.
            pragma(conn, f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            # A damaged b-tree would otherwise be served silently as a log with holes in it:
            # check the structure once per open (quick_check reads each page once).
            problems = [str(row[0]) for row in pragma(conn, "PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                conn.close()
                raise BrokerError(
                    f"The embedded log {self.db_path} is damaged ({'; '.join(problems)[:300]}). "
                    "Restore it from a backup, or move the directory away to start an empty "
                    "log (committed records in it are then lost to this broker)."
                )
            self._conn = conn
            try:
                self.write(self._create_schema)
                self._convert_auto_vacuum(conn)
            except BaseException:
                self.close()
                raise
            self._checkpointer = Checkpointer(self.db_path)
            self._checkpointer.start()
        except sqlite3.Error as exc:
            raise BrokerError(
                f"The embedded broker cannot open its log {self.db_path} ({exc}); check that "
                "the file is a streamz_kit log and the directory is writable."
            ) from exc
        except OSError as exc:
            raise BrokerError(
                f"The embedded broker cannot create its log {self.db_path} "
                f"({exc.strerror or exc}); choose a writable location with "
                "broker='embedded://PATH'."
            ) from exc
        return conn

    def _pragma(self, conn: sqlite3.Connection, sql: str) -> list[tuple[object, ...]]:
        """Run one statement of the open, retrying while the log is busy; any other error
        is raised as it is (open() turns it into a sentence)."""
        deadline = time.monotonic() + RETRY_FOR_S
        pause = 0.002
        while True:
            try:
                return list(conn.execute(sql).fetchall())
            except sqlite3.OperationalError as exc:
                if not self._retryable(exc, deadline):
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise BrokerError(
                f"The embedded log was written by a newer streamz_kit (schema {version}); "
                "upgrade streamz_kit to read it."
            )
        for stmt in _SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        if version < 3:
            add_retention_columns(conn)
        if version < SCHEMA_VERSION and has_records_table(conn):
            records_to_batches(conn)
        if version < 3:
            fill_retention_columns(conn)
        if version != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _convert_auto_vacuum(self, conn: sqlite3.Connection) -> None:
        """A log created before retention existed has auto_vacuum off, so freed pages would
        never leave the file: convert it once, with a full VACUUM (one transaction, so a
        crash leaves the old file; it needs free disk space about the log's size and holds
        the write lock while it runs). Skipped, and tried at the next open, while another
        process keeps the log busy."""
        [(mode,)] = self._pragma(conn, "PRAGMA auto_vacuum")
        if mode == 2:
            return
        with self._mutex:
            try:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                started = time.monotonic()
                conn.execute("VACUUM")
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                _log.warning(
                    "The embedded log %s could not be converted to give freed space back "
                    "(another process was writing); it will be tried at the next open.",
                    self.db_path,
                )
                return
        _log.info(
            "Converted the embedded log %s to incremental vacuum in %.1f s (once).",
            self.db_path,
            time.monotonic() - started,
        )

    def close(self) -> None:
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn if self._conn is not None else self.open()

    # -- running statements ----------------------------------------------------------------
    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a read (autocommit statements, each its own snapshot), retrying while busy."""
        conn = self.conn
        with self._mutex:
            return self._retry_sync(lambda: fn(conn))

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one write transaction, blocking while another process writes."""
        with self._mutex:
            return self._retry_sync(lambda: self._write_once(fn))

    async def awrite(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """As `write`, but waits for a busy database with asyncio.sleep, not by blocking."""
        deadline = time.monotonic() + RETRY_FOR_S
        pause = 0.002
        while True:
            try:
                with self._mutex:
                    return self._write_once(fn)
            except sqlite3.Error as exc:
                if not self._retryable(exc, deadline):
                    raise self._wrap(exc) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _write_once(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.local_writes += 1
        return result

    def _retry_sync(self, thunk: Callable[[], T]) -> T:
        deadline = time.monotonic() + RETRY_FOR_S
        pause = 0.002
        while True:
            try:
                return thunk()
            except sqlite3.Error as exc:
                if not self._retryable(exc, deadline):
                    raise self._wrap(exc) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    @staticmethod
    def _retryable(exc: sqlite3.Error, deadline: float) -> bool:
        return (
            isinstance(exc, sqlite3.OperationalError)
            and _is_busy(exc)
            and time.monotonic() < deadline
        )

    def _wrap(self, exc: sqlite3.Error) -> StreamzError:
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return _busy_error(self.path)
        return BrokerError(
            f"The embedded log at {self.db_path} failed ({exc}); if the disk is full free "
            "some space, otherwise the log may be damaged."
        )

    def change_token(self) -> tuple[int, int]:
        """Changes whenever anyone (this connection or another process) commits a write."""
        conn = self.conn
        with self._mutex:
            (version,) = self._retry_sync(lambda: conn.execute("PRAGMA data_version").fetchone())
        return (version, self.local_writes)
