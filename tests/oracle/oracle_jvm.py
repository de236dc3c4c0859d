"""The Java side of the oracle: one long-lived JVM running Kafka Streams' TopologyTestDriver.

The JVM (interop/kstreams-oracle, built through interop/jvm.py) reads cases as JSON lines on
stdin and answers each with one JSON line on stdout, flushed per case, so one process serves a
whole test session and the Hypothesis shrinker can ask it about each smaller input. A caller
may `submit` a case, run the Python side meanwhile, then `result()`: the two sides overlap on
two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable
from typing import IO, Any, Self

from interop.jvm import java_executable, module_classpath

MODULE = "interop/kstreams-oracle"
MAIN = "io.streamzkit.oracle.Main"
JVM_FLAGS = ["-XX:+UseSerialGC", "-Xmx512m", "-XX:TieredStopAtLevel=1"]


class OracleError(RuntimeError):
    """The oracle JVM died or answered something that is not a result line."""


class KafkaStreamsOracle:
    """A Kafka Streams TopologyTestDriver in a JVM, one JSON line in, one JSON line out."""

    def __init__(self) -> None:
        # ORACLE_CLASSPATH: a classpath built elsewhere (rebuilding target/ rewrites the jars
        # under a JVM that is still running a campaign from them)
        classpath = os.environ.get("ORACLE_CLASSPATH") or module_classpath(MODULE)
        # closed in close(): the JVM writes to it for as long as it runs
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [java_executable(), *JVM_FLAGS, "-cp", classpath, MAIN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._in_flight = 0

    def submit(self, case: dict[str, Any]) -> None:
        """Send one case; its result is read by the next `result()` (answers keep order)."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(case) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise OracleError(self._died()) from exc
        self._in_flight += 1

    def result(self) -> dict[str, Any]:
        """The answer to the oldest submitted case."""
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise OracleError(self._died())
        self._in_flight -= 1
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise OracleError(f"The oracle JVM printed a line that is not JSON: {line!r}") from exc
        return answer

    def run(self, case: dict[str, Any]) -> dict[str, Any]:
        self.submit(case)
        return self.result()

    def run_all(self, cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run many cases, keeping a bounded number in flight so neither pipe fills up."""
        results: list[dict[str, Any]] = []
        for case in cases:
            self.submit(case)
            if self._in_flight >= 32:
                results.append(self.result())
        while self._in_flight:
            results.append(self.result())
        return results

    def _died(self) -> str:
        code = self._proc.poll()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-3000:]
        return (
            f"The Kafka Streams oracle JVM stopped (exit code {code}); its stderr ends with:\n"
            f"{tail}\nRebuild it with interop.jvm.module_classpath({MODULE!r}) and retry."
        )

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
