"""Start a real Apache Kafka broker (one KRaft node) for tests, benchmarks and people.

The broker's jars come from Maven Central through `interop/kafka-broker/pom.xml`, built on
demand by `interop.jvm.module_classpath`; nothing is installed by hand. One JVM runs broker
and controller together on free loopback ports, in a private temporary directory, with every
internal topic at replication factor 1 (so transactions work on one node) and thread pools
and heap sized for a 2-core machine.

    from interop.kafka_broker import KafkaBroker

    with KafkaBroker() as bootstrap:          # "127.0.0.1:PORT"
        ...

    broker = KafkaBroker(); broker.start()    # or by hand, for fault tests:
    broker.pause(); broker.resume()           # SIGSTOP / SIGCONT: alive on TCP, never answers
    broker.restart()                          # same port and data: clients reconnect
    broker.stop()

A broker that cannot start raises `KafkaBrokerError` with one sentence naming the cause
(no Java, the Maven build failed, a port was taken, the JVM exited or never got ready) and
the log file to read. `python -m interop.kafka_broker` (or `make kafka`) runs one until ^C.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

if __package__ in (None, ""):  # `python interop/kafka_broker.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interop.jvm import JvmBuildError, java_executable, module_classpath

MODULE = "interop/kafka-broker"
READY_LINE = "Kafka Server started"

# Fast start and a small footprint on 2 cores: serial GC (no GC threads competing with
# the tests), a modest heap, and no per-thread stack bloat.
DEFAULT_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-Xss512k",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
    # The broker logs every config and metadata step at INFO; keep what helps a failure.
    "-Dorg.slf4j.simpleLogger.log.kafka=warn",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn",
    "-Dorg.slf4j.simpleLogger.log.kafka.server.KafkaRaftServer=info",
    "-Dorg.slf4j.simpleLogger.log.kafka.server.BrokerServer=info",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.coordinator=info",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.coordinator.common.runtime=warn",
    "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.coordinator.group.GroupMetadataManager=info",
)


class KafkaBrokerError(RuntimeError):
    """The broker could not be built or started; the message names the cause and the log."""


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel's choice, so never fixed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers_kafka(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when HOST:PORT answers a Kafka ApiVersions (v0) request with error code 0."""
    client_id = b"streamz-probe"
    body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as s:
            s.settimeout(timeout_s)
            s.sendall(struct.pack(">i", len(body)) + body)
            got = b""
            while len(got) < 4:
                chunk = s.recv(4 - len(got))
                if not chunk:
                    return False
                got += chunk
            (size,) = struct.unpack(">i", got)
            got = b""
            while len(got) < size:
                chunk = s.recv(size - len(got))
                if not chunk:
                    return False
                got += chunk
            correlation_id, error_code = struct.unpack(">ih", got[:6])
            return bool(correlation_id == 1 and error_code == 0)
    except OSError:
        return False


def broker_config(
    data_dir: Path,
    port: int,
    controller_port: int,
    extra: dict[str, str] | None = None,
    *,
    sasl_port: int = 0,
    sasl_users: dict[str, str] | None = None,
) -> dict[str, str]:
    """server.properties of a one-node KRaft cluster on loopback, sized for tests. With
    `sasl_port`, a second client listener takes SASL/PLAIN logins of `sasl_users`."""
    listeners = f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}"
    advertised = f"PLAINTEXT://127.0.0.1:{port}"
    protocols = "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    sasl: dict[str, str] = {}
    if sasl_port:
        listeners += f",SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
        advertised += f",SASL_PLAINTEXT://127.0.0.1:{sasl_port}"
        protocols += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
        users = " ".join(f'user_{u}="{p}"' for u, p in (sasl_users or {}).items())
        sasl = {
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};",
        }
    config = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": listeners,
        "advertised.listeners": advertised,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": protocols,
        **sasl,
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "log.dirs": str(data_dir),
        # One node: every internal topic with one replica, one partition where it speeds up
        # the first group / transaction (each partition is a coordinator to load).
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Topics are created by the code under test, with the partition count it means;
        # a forgotten creation is an error, not a silent 1-partition topic.
        "auto.create.topics.enable": "false",
        # Groups form at once, and tests may use short session timeouts (fast failover).
        "group.initial.rebalance.delay.ms": "0",
        "group.min.session.timeout.ms": "500",
        # Aborted / timed-out transactions are cleaned up within seconds, not a minute.
        "transaction.abort.timed.out.transaction.cleanup.interval.ms": "2000",
        # Small pools for 2 cores.
        "num.network.threads": "2",
        "num.io.threads": "2",
        "group.coordinator.threads": "1",
        "share.coordinator.threads": "1",
        "background.threads": "2",
        "num.replica.fetchers": "1",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
        "queued.max.requests": "200",
        # Small segments keep a many-topic test session's disk and page cache small.
        "log.segment.bytes": str(16 * 1024 * 1024),
        "offsets.topic.segment.bytes": str(16 * 1024 * 1024),
        "transaction.state.log.segment.bytes": str(16 * 1024 * 1024),
    }
    config.update(extra or {})
    return config


class KafkaBroker:
    """One Kafka JVM (broker + controller) on free loopback ports, in its own temp dir."""

    def __init__(
        self,
        *,
        port: int = 0,
        heap_mb: int = 768,
        startup_timeout_s: float = 120.0,
        config: dict[str, str] | None = None,
        jvm_flags: tuple[str, ...] = DEFAULT_JVM_FLAGS,
        work_dir: str | Path | None = None,
        sasl_users: dict[str, str] | None = None,
    ) -> None:
        self.requested_port = port
        self.heap_mb = heap_mb
        self.startup_timeout_s = startup_timeout_s
        self.extra_config = dict(config or {})
        self.jvm_flags = jvm_flags
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="kafka-broker-"))
        self.data_dir = self.work_dir / "data"
        self.config_path = self.work_dir / "server.properties"
        self.log_path = self.work_dir / "kafka.log"
        self.port = 0
        self.controller_port = 0
        self.bootstrap = ""
        # SASL/PLAIN listener (only when `sasl_users` is given): "127.0.0.1:PORT"
        self.sasl_users = dict(sasl_users or {})
        self.sasl_port = 0
        self.sasl_bootstrap = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._classpath = ""
        self._java = ""
        self._formatted = False
        self._keep_files = False

    # -- start -----------------------------------------------------------------------------
    def start(self) -> str:
        """Build (first time), format, start, and return once clients can talk to it."""
        try:
            return self._start()
        except KafkaBrokerError:
            self._keep_files = True  # the error names the log: stop() must not delete it
            raise

    def _start(self) -> str:
        try:
            self._java = java_executable()
            self._classpath = module_classpath(MODULE)
        except JvmBuildError as exc:
            raise KafkaBrokerError(f"Cannot start Kafka: {exc}") from exc
        attempts = 1 if self.requested_port else 3
        for attempt in range(attempts):
            self.port = self.requested_port or free_port()
            self.controller_port = free_port()
            if self.sasl_users:
                self.sasl_port = free_port()
            self._write_config()
            if not self._formatted:
                self._format()
            try:
                self._launch()
                return self.bootstrap
            except _PortTaken:
                # The format step wrote this node's controller endpoint into the metadata
                # log: new ports need a fresh format.
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self._formatted = False
                if attempt + 1 == attempts:
                    raise KafkaBrokerError(
                        f"Kafka could not listen on 127.0.0.1:{self.port} (or its controller "
                        f"port {self.controller_port}) because another process holds the "
                        f"port; free it or choose another (see {self.log_path})."
                    ) from None
        raise AssertionError("unreachable")

    def _write_config(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config = broker_config(
            self.data_dir,
            self.port,
            self.controller_port,
            self.extra_config,
            sasl_port=self.sasl_port,
            sasl_users=self.sasl_users,
        )
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))

    def _java_cmd(self, main: str, *args: str, heap_mb: int) -> list[str]:
        return [
            self._java,
            f"-Xmx{heap_mb}m",
            f"-Xms{min(heap_mb, 256)}m",
            *self.jvm_flags,
            "-cp",
            self._classpath,
            main,
            *args,
        ]

    def _format(self) -> None:
        """`kafka-storage format --standalone`: a fresh cluster id, this node the only voter."""
        cluster_id = _random_cluster_id()
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "-c",
            str(self.config_path),
            "-t",
            cluster_id,
            "--standalone",
            heap_mb=256,
        )
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            try:
                proc = subprocess.run(
                    cmd, check=False, stdout=log, stderr=subprocess.STDOUT, timeout=120
                )
            except subprocess.TimeoutExpired:
                raise KafkaBrokerError(
                    f"Formatting Kafka's storage took over 120 s; see {self.log_path}."
                ) from None
        if proc.returncode != 0:
            raise KafkaBrokerError(
                f"Formatting Kafka's storage failed (exit {proc.returncode}); the reason is at "
                f"the end of {self.log_path}."
            )
        self._formatted = True

    def _launch(self) -> None:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        cmd = self._java_cmd("kafka.Kafka", str(self.config_path), heap_mb=self.heap_mb)
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(cmd)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # ^C in a terminal reaches us, and we stop it cleanly
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - one prctl call, no locks
            )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            text = self._log_since(offset)
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                if "Address already in use" in text or "BindException" in text:
                    raise _PortTaken()
                raise KafkaBrokerError(
                    f"Kafka exited during start-up (exit code {code}); the reason is at the "
                    f"end of {self.log_path}."
                )
            if READY_LINE in text and answers_kafka("127.0.0.1", self.port):
                self.bootstrap = f"127.0.0.1:{self.port}"
                if self.sasl_port:
                    self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
                return
            time.sleep(0.1)
        self._kill()
        raise KafkaBrokerError(
            f"Kafka did not become ready on 127.0.0.1:{self.port} within "
            f"{self.startup_timeout_s:g} s (the machine may be overloaded); see {self.log_path}."
        )

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    # -- faults ----------------------------------------------------------------------------
    def pause(self) -> None:
        """Freeze the JVM (SIGSTOP): connections stay open, nothing is answered."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self, *, hard: bool = False) -> str:
        """Stop the broker (SIGTERM, or SIGKILL when `hard`) and start it again on the same
        port with the same data, as an operator's broker restart looks to clients."""
        port = self.port
        if hard:
            self._kill()
        else:
            self._terminate()
        deadline = time.monotonic() + 30
        while not _port_free(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.requested_port = port
        self._write_config()
        try:
            self._launch()
        except _PortTaken:
            raise KafkaBrokerError(
                f"Kafka could not listen on 127.0.0.1:{port} again after its restart because "
                f"another process took the port; see {self.log_path}."
            ) from None
        return self.bootstrap

    # -- stop ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused JVM cannot handle SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        """Shut the broker down cleanly (killed if it takes over 30 s) and delete its files
        (kept when it failed to start: the error message points at its log)."""
        self._terminate()
        if self._own_dir and not self._keep_files:
            shutil.rmtree(self.work_dir, ignore_errors=True)

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


def _die_with_parent() -> None:
    """Linux: the JVM gets SIGTERM when the process that started it dies (a killed pytest or
    benchmark must not leave brokers running on a shared machine)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _PortTaken(Exception):
    pass


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _random_cluster_id() -> str:
    """What `kafka-storage random-uuid` prints: 16 random bytes, URL-safe base64, no padding,
    never starting with "-" (Kafka's rule too: the tool would read it as an option)."""
    import base64
    import uuid

    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def main(argv: list[str] | None = None) -> int:
    """Run one broker until interrupted, printing its bootstrap address."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("KAFKA_PORT", "0")),
        help="listener port (default: a free one)",
    )
    parser.add_argument("--heap-mb", type=int, default=768)
    args = parser.parse_args(argv)
    broker = KafkaBroker(port=args.port, heap_mb=args.heap_mb)
    print("Starting Kafka (the first run downloads its jars from Maven Central)...", flush=True)
    try:
        bootstrap = broker.start()
    except KafkaBrokerError as exc:
        broker.stop()
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        broker.stop()
        return 130
    print(f"Kafka is ready: bootstrap servers {bootstrap}  (--broker kafka://{bootstrap})")
    print(f"Log: {broker.log_path}. Press Ctrl-C to stop it (its data is deleted).", flush=True)
    stop = signal.sigwait if hasattr(signal, "sigwait") else None
    try:
        if stop is not None:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            stop({signal.SIGINT, signal.SIGTERM})
        else:  # pragma: no cover
            while broker.running:
                time.sleep(1)
    finally:
        print("Stopping Kafka...", flush=True)
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
