"""`run --workers N`: N worker processes of one application on this machine, supervised.

Why processes and not threads: a worker is one Python process bound to one core by the
interpreter lock; N processes use N cores. On Kafka each worker is an ordinary member of
the application's consumer group, so the group coordinator shares the partitions among
them and moves a dead worker's tasks (and, through the changelogs, their state) to the
others, exactly as for workers on different machines.

The supervisor forks the workers before any event loop, thread or store exists (so a fork
copies nothing that could be half-used), and then only watches them:
- it prints which worker is which pid;
- a worker that dies (a crash, a SIGKILL) is started again after an exponential backoff;
  one that keeps dying soon after starting makes the supervisor give up with a sentence,
  stopping the others, instead of restarting it forever;
- SIGINT/SIGTERM are forwarded as SIGTERM, so every worker commits and closes cleanly (a
  second Ctrl-C kills them at once).
Each worker keeps its own state directory (`<state_dir>/worker-<i>`), which a restarted
worker reuses; two processes never open the same RocksDB store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

# The environment variable that tells a worker its index (status files and logs show it).
WORKER_ENV = "STREAMZ_WORKER"


def worker_state_dir(state_dir: Path, index: int) -> Path:
    """Worker `index`'s own state directory under the application's state directory."""
    return Path(state_dir) / f"worker-{index}"


def _echo(message: str) -> None:
    print(f"streamz-kit supervisor: {message}", file=sys.stderr, flush=True)


@dataclass
class _Slot:
    """One worker index: its current process and its recent crashes."""

    index: int
    pid: int | None = None
    started: float = 0.0
    fast_crashes: int = 0
    restart_at: float | None = None
    done: bool = False


class Supervisor:
    """Run `target(index)` in N forked processes until stopped; see the module docstring.

    `target` runs in the child and returns its exit code (0: a clean stop). Backoff: the
    k-th crash in a row within `fast_crash_seconds` of a start waits
    `backoff_seconds * 2**(k-1)` (at most `max_backoff_seconds`); after `give_up_after`
    such crashes the supervisor stops everything and returns 1.
    """

    def __init__(
        self,
        target: Callable[[int], int],
        workers: int,
        *,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        fast_crash_seconds: float = 10.0,
        give_up_after: int = 5,
        echo: Callable[[str], None] = _echo,
    ) -> None:
        self.target = target
        self.slots = [_Slot(i) for i in range(workers)]
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.fast_crash_seconds = fast_crash_seconds
        self.give_up_after = give_up_after
        self.echo = echo
        self.stopping = False
        self.kill_requested = False
        self.failed = False

    # -- the child ------------------------------------------------------------------------
    def _spawn(self, slot: _Slot) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which never returns
            code = 1
            try:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.environ[WORKER_ENV] = str(slot.index)
                code = int(self.target(slot.index) or 0)
            except KeyboardInterrupt:
                code = 130
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        slot.pid, slot.started, slot.restart_at = pid, time.monotonic(), None
        self.echo(f"worker {slot.index} is pid {pid}")

    # -- signals --------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            self.kill_requested = True
            self.echo(
                "second stop signal: killing the workers now (uncommitted work is "
                "redone on the next run)."
            )
            self._signal_all(signal.SIGKILL)
            return
        self.echo(
            f"{signal.Signals(signum).name}: stopping every worker (each commits and "
            "closes); press Ctrl-C again to kill them at once."
        )
        self.stop()

    def stop(self) -> None:
        """Ask every worker to commit and stop; nothing is restarted from now on."""
        self.stopping = True
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: int) -> None:
        for slot in self.slots:
            if slot.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, sig)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        """Start the workers and supervise them until they all stopped; the exit code."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for slot in self.slots:
                self._spawn(slot)
            while any(
                s.pid is not None or (s.restart_at is not None and not self.stopping)
                for s in self.slots
            ):
                self._reap()
                now = time.monotonic()
                for slot in self.slots:
                    if (
                        slot.pid is None
                        and slot.restart_at is not None
                        and now >= slot.restart_at
                        and not self.stopping
                    ):
                        self._spawn(slot)
                time.sleep(0.05)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.echo("every worker stopped" + (" (after a failure)." if self.failed else "."))
        return 1 if self.failed else 0

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is not None:
                self._exited(slot, status)

    def _exited(self, slot: _Slot, status: int) -> None:
        slot.pid = None
        code = os.waitstatus_to_exitcode(status)
        how = f"exit code {code}" if code >= 0 else f"signal {signal.Signals(-code).name}"
        if self.stopping:
            if code not in (0, 130) and not self.kill_requested:
                self.failed = True
            self.echo(f"worker {slot.index} stopped ({how}).")
            return
        if code == 0:
            # A worker only ends by itself on a clean stop nobody here asked for: leave it.
            self.echo(f"worker {slot.index} stopped by itself ({how}); not restarting it.")
            slot.done = True
            return
        uptime = time.monotonic() - slot.started
        slot.fast_crashes = slot.fast_crashes + 1 if uptime < self.fast_crash_seconds else 1
        if slot.fast_crashes >= self.give_up_after:
            self.failed = True
            self.echo(
                f"worker {slot.index} died {slot.fast_crashes} times in a row within "
                f"{self.fast_crash_seconds:g} s of starting (last: {how}); giving up and "
                "stopping the other workers. Its error is in the output above: fix it and "
                "run again."
            )
            self.stop()
            return
        delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (slot.fast_crashes - 1))
        slot.restart_at = time.monotonic() + delay
        self.echo(
            f"worker {slot.index} died ({how}) after {uptime:.1f} s; restarting it in {delay:g} s."
        )
