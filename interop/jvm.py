"""Build the repository's small Maven modules and run their Java programs.

The Java side of the project (the Kafka broker launcher, the Kafka Streams oracle, the Kafka
Streams benchmark peer) lives in Maven modules under `interop/` and `bench/`. Nothing is
installed by hand: the first caller builds a module with Maven (fetching its jars from Maven
Central into ~/.m2), later callers reuse `target/` until the pom or a source file changes.
A file lock keeps parallel test processes from building the same module twice.

    from interop.jvm import module_classpath, java_executable
    cp = module_classpath("interop/kafka-broker")      # "target/classes:target/lib/*"
    subprocess.Popen([java_executable(), "-cp", cp, "some.Main", ...])
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 900


class JvmBuildError(RuntimeError):
    """A Maven module could not be built, or no Java runtime was found."""


def java_executable() -> str:
    """The `java` to run: $JAVA_HOME/bin/java when set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise JvmBuildError(
            "No Java runtime was found (no `java` on PATH and no JAVA_HOME); "
            "install a JDK 17 or newer (apt-get install openjdk-17-jdk-headless) and try again."
        )
    return found


def _newest_input_mtime(module: Path) -> float:
    newest = (module / "pom.xml").stat().st_mtime
    src = module / "src"
    if src.exists():
        for path in src.rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def module_classpath(module: str | Path) -> str:
    """Build MODULE (a folder holding pom.xml, relative to the repository root) if it is out
    of date, and return a classpath string with its classes and every runtime dependency."""
    path = Path(module)
    if not path.is_absolute():
        path = ROOT / path
    if not (path / "pom.xml").exists():
        raise JvmBuildError(f"{path} has no pom.xml; is MODULE the path of a Maven module?")
    target = path / "target"
    stamp = target / ".built"
    target.mkdir(exist_ok=True)
    with open(target / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.stat().st_mtime < _newest_input_mtime(path):
            _build(path)
            stamp.touch()
    return os.pathsep.join([str(target / "classes"), str(target / "lib" / "*")])


def _build(path: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise JvmBuildError(
            f"Maven (`mvn`) is not on PATH, so {path.name} cannot be built; "
            "install it (apt-get install maven) and try again."
        )
    java_executable()  # fail early, with its sentence, when there is no Java
    log = path / "target" / "build.log"
    # copy-dependencies only adds: a jar dropped or re-versioned by the pom would linger in
    # lib/ and shadow its replacement on the `lib/*` classpath.
    shutil.rmtree(path / "target" / "lib", ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(path / "pom.xml"),
        "package",
        "dependency:copy-dependencies",
        "-DskipTests",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={path / 'target' / 'lib'}",
    ]
    with open(log, "wb") as out:
        try:
            proc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise JvmBuildError(
                f"Building {path.name} with Maven took over {BUILD_TIMEOUT_S} s (see {log}); "
                "check that Maven Central is reachable and try again."
            ) from exc
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise JvmBuildError(
            f"Building {path.name} with Maven failed (exit {proc.returncode}); if the log shows "
            f"a download error, Maven Central could not be reached. Full log: {log}\n{tail}"
        )
