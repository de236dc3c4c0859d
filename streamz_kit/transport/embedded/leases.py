"""Several members of one group on the embedded log (`run --workers N`): leases in the log.

Without a broker process there is no group coordinator, so the members coordinate through
two tables of the log itself, each change one SQLite write transaction:
- `group_members`: one row per live member (member id, pid, lease expiry, the partitions it
  last took): a member renews its lease by heartbeat; a row whose lease expired is a dead
  (or stalled) member, and whoever sees it first deletes it;
- `group_generations`: the group's generation, bumped by every join, leave and expiry.
A member that sees a new generation gives up its partitions (the runtime commits and closes
their tasks, as in an eager Kafka rebalance) and takes its share of the new member list:
partition p of every topic goes to member p mod n of the sorted member ids, so co-partitioned
topics stay together and task p lives on one member. State moves with the tasks through their
changelogs, exactly as on Kafka.

A member claims only partitions no other live member holds, so a partition has one owner at
a time; the rest of its share it takes at a later heartbeat, once released.
Fencing: a group commit (at_least_once) is refused with TaskMigratedError for partitions the
committing member no longer holds (its lease ran out while it stalled); under
exactly_once each task's transactional id is fenced by the new owner's epoch bump before it
reads anything (runtime/eos_fencing.py), so a stalled member's transaction never commits.
Why a lease timeout and not the kernel's flock (as for a single worker): a stopped but not
dead process (SIGSTOP, a frozen VM) keeps its flock forever, while its lease runs out.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable

import orjson

from streamz_kit.errors import TaskMigratedError
from streamz_kit.transport.port import TopicPartition

DEFAULT_SESSION_MS = 10_000
# How long the first members of a group wait for the others the supervisor started before
# taking partitions (Kafka's group.initial.rebalance.delay.ms default): without it the first
# worker up takes every partition and hands half back a moment later, a rebalance and a
# state restoration at every start. A member that finds enough members joined goes at once.
INITIAL_JOIN_WAIT_S = 3.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS group_members(
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    assignment TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY(group_id, member_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_generations(
    group_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID
"""


def ensure_schema(conn: sqlite3.Connection) -> None:
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _generation(conn: sqlite3.Connection, group_id: str) -> int:
    row = conn.execute(
        "SELECT generation FROM group_generations WHERE group_id = ?", (group_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def _bump(conn: sqlite3.Connection, group_id: str) -> None:
    conn.execute(
        "INSERT INTO group_generations(group_id, generation) VALUES (?, 1) "
        "ON CONFLICT(group_id) DO UPDATE SET generation = generation + 1",
        (group_id,),
    )


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}-{tp.partition}"


def share(
    members: list[str], member_id: str, partitions: Iterable[TopicPartition]
) -> set[TopicPartition]:
    """This member's partitions: p mod n of the sorted member ids (see the docstring)."""
    ordered = sorted(members)
    if member_id not in ordered:
        return set()
    index, n = ordered.index(member_id), len(ordered)
    return {tp for tp in partitions if tp.partition % n == index}


class GroupLeases:
    """One member's view of its group; every method runs inside a write transaction."""

    def __init__(
        self,
        group_id: str,
        member_id: str,
        session_ms: int = DEFAULT_SESSION_MS,
        expected: int = 1,
    ) -> None:
        self.group_id = group_id
        self.member_id = member_id
        self.session_ms = max(int(session_ms), 100)
        self.expected = max(int(expected), 1)  # members started together (run --workers N)
        self.generation = -1  # the generation this member's assignment came from

    @property
    def heartbeat_s(self) -> float:
        """A third of the lease, at most a second: a member notices a join (and the
        partitions a previous owner released) within a second; one small write each."""
        return min(self.session_ms / 3000, 1.0)

    def _expire(self, conn: sqlite3.Connection, now: int) -> None:
        gone = conn.execute(
            "DELETE FROM group_members WHERE group_id = ? AND expires_ms < ? AND member_id != ?",
            (self.group_id, now, self.member_id),
        ).rowcount
        if gone:
            _bump(conn, self.group_id)

    def heartbeat(self, conn: sqlite3.Connection) -> tuple[int, list[str], set[str]]:
        """Renew this member's lease (joining if it has none: first start, or its lease ran
        out while it stalled) and drop expired members; the generation, the member list and
        the partitions other members hold."""
        ensure_schema(conn)
        now = _now_ms()
        self._expire(conn, now)
        renewed = conn.execute(
            "UPDATE group_members SET expires_ms = ? WHERE group_id = ? AND member_id = ?",
            (now + self.session_ms, self.group_id, self.member_id),
        ).rowcount
        if not renewed:
            conn.execute(
                "INSERT INTO group_members(group_id, member_id, pid, expires_ms) "
                "VALUES (?, ?, ?, ?)",
                (self.group_id, self.member_id, os.getpid(), now + self.session_ms),
            )
            _bump(conn, self.group_id)
        members = [
            r[0]
            for r in conn.execute(
                "SELECT member_id FROM group_members WHERE group_id = ?", (self.group_id,)
            )
        ]
        return _generation(conn, self.group_id), sorted(members), self._held(conn, now)

    def _held(self, conn: sqlite3.Connection, now: int) -> set[str]:
        held: set[str] = set()
        for (names,) in conn.execute(
            "SELECT assignment FROM group_members WHERE group_id = ? AND member_id != ? "
            "AND expires_ms >= ?",
            (self.group_id, self.member_id, now),
        ):
            held.update(orjson.loads(names))
        return held

    def free(self, target: set[TopicPartition], held: set[str]) -> set[TopicPartition]:
        """The partitions of `target` no other member holds."""
        return {tp for tp in target if _name(tp) not in held}

    def claim(self, conn: sqlite3.Connection, target: set[TopicPartition]) -> set[TopicPartition]:
        """Release every partition this member held and take those of `target` that no
        other live member holds yet (one at a time: a partition whose previous owner has
        not released it yet is taken at a later heartbeat). What was taken."""
        taken = self.free(target, self._held(conn, _now_ms()))
        conn.execute(
            "UPDATE group_members SET assignment = ? WHERE group_id = ? AND member_id = ?",
            (
                orjson.dumps(sorted(_name(tp) for tp in taken)).decode(),
                self.group_id,
                self.member_id,
            ),
        )
        return taken

    def check(self, conn: sqlite3.Connection, partitions: Iterable[TopicPartition]) -> None:
        """Refuse a commit of partitions this member does not hold (its lease ran out and
        another member may have taken them): TaskMigratedError."""
        row = conn.execute(
            "SELECT assignment FROM group_members WHERE group_id = ? AND member_id = ?",
            (self.group_id, self.member_id),
        ).fetchone()
        held = set(orjson.loads(row[0])) if row else set()
        lost = sorted(_name(tp) for tp in partitions if _name(tp) not in held)
        if lost:
            raise TaskMigratedError(
                f"Committing offsets of {', '.join(lost)} failed: this worker no longer holds "
                f"them in group {self.group_id!r} on the embedded log (its lease ran out while "
                "it stalled); another worker may own them now: close their tasks without "
                "committing."
            )

    def leave(self, conn: sqlite3.Connection) -> None:
        ensure_schema(conn)
        gone = conn.execute(
            "DELETE FROM group_members WHERE group_id = ? AND member_id = ?",
            (self.group_id, self.member_id),
        ).rowcount
        if gone:
            _bump(conn, self.group_id)


def group_members(conn: sqlite3.Connection, group_id: str) -> list[dict[str, object]]:
    """The live members of a group with their partitions (empty if none or no table)."""
    try:
        rows = conn.execute(
            "SELECT member_id, pid, expires_ms, assignment FROM group_members "
            "WHERE group_id = ? ORDER BY member_id",
            (group_id,),
        ).fetchall()
    except sqlite3.OperationalError:  # a log no member ever shared: no table
        return []
    now = _now_ms()
    return [
        {"member": m, "pid": int(pid), "partitions": orjson.loads(a)}
        for m, pid, expires, a in rows
        if int(expires) >= now
    ]
