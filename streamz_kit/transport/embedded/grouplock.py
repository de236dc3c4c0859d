"""Group membership on the embedded broker: one member per group, held by an OS file lock.

Why a lock file and not a row in the database: the kernel drops an flock the moment its
holder dies, kill -9 included, so a crashed worker never leaves a stale membership behind
and nobody has to guess whether a recorded pid is still alive. The holder writes its pid
into the file only so that the error shown to a second worker can name it.
"""

from __future__ import annotations

import fcntl
import os
import time
from urllib.parse import quote

from streamz_kit.errors import BrokerError, BrokerLockedError
from streamz_kit.transport.embedded.db import make_private_dir


def lock_path(groups_dir: str, group_id: str) -> str:
    return os.path.join(groups_dir, quote(group_id, safe="") + ".lock")


def _open(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise BrokerError(
            f"The embedded broker cannot create the group lock {path} ({exc.strerror or exc}); "
            "check that the broker directory is writable."
        ) from exc


def _try_lock(fd: int) -> bool:
    """A few quick attempts, so a concurrent `group_is_locked` probe is not taken for a worker."""
    for attempt in range(4):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.005 * (attempt + 1))
    return False


class GroupLock:
    def __init__(self, broker_path: str, groups_dir: str, group_id: str) -> None:
        self.broker_path = broker_path
        self.groups_dir = groups_dir
        self.group_id = group_id
        self.path = lock_path(groups_dir, group_id)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now or raise BrokerLockedError naming the holder's pid."""
        if self._fd is not None:
            return
        make_private_dir(self.groups_dir)
        fd = _open(self.path)
        if not _try_lock(fd):
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise BrokerLockedError(
                f"Another worker of application '{self.group_id}' is already running on the "
                f"embedded broker at {self.broker_path} (pid {holder}). Stop it first, or use "
                "broker='kafka://...' to run several workers."
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def group_is_locked(groups_dir: str, group_id: str) -> bool:
    """True while some process (this one included) holds the group's lock."""
    path = lock_path(groups_dir, group_id)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
