"""WAL checkpoints in a thread of their own, off the writers' path.

In WAL mode SQLite copies the write-ahead log back into the database file (a checkpoint)
inside whichever commit makes the log cross `wal_autocheckpoint` pages. With our 16 KiB
pages and 4,000 pages that one commit copied 64 MiB: single writes of 87-325 ms in the
recommendations benchmark at 5,000 actions/s, i.e. the worker's event loop (or a producer's
flush) stopped for that long every few seconds, which was most of the p99 latency.

Instead every open `Database` runs one daemon thread with its own connection that asks for
a PASSIVE checkpoint every CHECK_S. Python's sqlite3 releases the GIL while SQLite copies
pages, so the event loop keeps processing. PASSIVE never waits for readers or writers and
never blocks them: what it cannot copy now (a reader still needs an older snapshot,
another process checkpointing) is copied next time. Small and frequent, each one copies
what a tenth of a second wrote. The clients' connections keep an automatic checkpoint only
as a backstop at BACKSTOP_PAGES, which the thread's checkpoints keep the log below.

A checkpoint moves committed pages from one file to another; a crash during one leaves
the log as it was (SQLite replays the WAL at the next open), so this changes nothing of
what the log guarantees.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

CHECK_S = 0.1
BACKSTOP_PAGES = 16_000  # 256 MiB of 16 KiB pages: reached only if the thread cannot run

log = logging.getLogger("streamz_kit.embedded")


class Checkpointer:
    """A daemon thread checkpointing one database file until `stop()`."""

    def __init__(self, db_path: str) -> None:
        self._db_path = db_path
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"streamz-wal-checkpoint {db_path}", daemon=True
        )
        self.checkpoints = 0  # completed checkpoint calls (tests)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        failing = False
        try:
            while not self._stop.wait(CHECK_S):
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self._db_path, isolation_level=None, check_same_thread=False
                        )
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                    failing = False
                except sqlite3.Error as exc:
                    # The clients' writes report real problems with the log; here it is
                    # enough to say it once and try again (their backstop checkpoints run).
                    if not failing:
                        log.debug("WAL checkpoint of %s failed (%s)", self._db_path, exc)
                    failing = True
                    if conn is not None:
                        conn.close()
                        conn = None
        finally:
            if conn is not None:
                conn.close()
