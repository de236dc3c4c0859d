"""The peers' own virtualenv (bench/.peers-venv): Quix Streams and faust-streaming live there,
never in the project's environment and never as streamz_kit dependencies.

Each peer is installed by its own pip call, so one that fails to install is reported as
"unavailable: <reason>" and the other still runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".peers-venv"
PEERS = {
    # name: (pip requirement, import name)
    "quixstreams": ("quixstreams==3.28.1", "quixstreams"),
    "faust": ("faust-streaming==0.15.3", "faust"),
}
COMMON = ["orjson", "aiokafka==0.14.0"]


def python() -> Path:
    return VENV / "bin" / "python"


def _run(cmd: list[str], timeout: float) -> tuple[bool, str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        return False, tail[-1] if tail else f"exit code {proc.returncode}"
    return True, ""


def ensure(only: list[str] | None = None) -> dict[str, str | None]:
    """Create the venv if needed and install each peer (or the `only` ones); peer name -> None
    or why it is unusable. A run limited to Kafka Streams needs neither peer installed."""
    wanted = {k: v for k, v in PEERS.items() if only is None or k in only}
    status: dict[str, str | None] = {}
    if not wanted:
        return status
    if not python().exists():
        ok, why = _run([sys.executable, "-m", "venv", str(VENV)], 120)
        if not ok:
            return {name: f"unavailable: cannot create a virtualenv ({why})" for name in wanted}
        _run([str(python()), "-m", "pip", "install", "-q", "--upgrade", "pip"], 300)
    ok, why = _run([str(python()), "-m", "pip", "install", "-q", *COMMON], 600)
    for name, (requirement, module) in wanted.items():
        # Already importable at the pinned version: no pip call, so repeated runs start fast.
        present, _ = _run([str(python()), "-c", f"import {module}"], 120)
        installed = present and _pinned(requirement)
        if not installed:
            ok, why = _run([str(python()), "-m", "pip", "install", "-q", requirement], 900)
            if not ok:
                status[name] = f"unavailable: pip install {requirement} failed ({why})"
                continue
        ok, why = _run([str(python()), "-c", f"import {module}"], 120)
        status[name] = None if ok else f"unavailable: import {module} failed ({why})"
    return status


def _pinned(requirement: str) -> bool:
    dist, _, version = requirement.partition("==")
    ok, _ = _run(
        [
            str(python()),
            "-c",
            f"import importlib.metadata as m, sys; sys.exit(m.version({dist!r}) != {version!r})",
        ],
        60,
    )
    return ok


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in ("quixstreams", "faust-streaming", "confluent-kafka", "aiokafka"):
        proc = subprocess.run(
            [str(python()), "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"],
            capture_output=True,
            text=True,
        )
        out[dist] = proc.stdout.strip() if proc.returncode == 0 else "not installed"
    return out
