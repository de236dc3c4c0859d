"""Fixtures: an embedded registry served by `streamz-kit registry` in a subprocess (one per
test session: the CLI as users run it), and confluent-kafka's client pointed at it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("registry-log")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamz_kit",
            "registry",
            "--broker",
            f"embedded://{path}",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(
            f"streamz-kit registry did not start: {line}{proc.stderr.read() if proc.stderr else ''}"
        )
    url = line.rsplit(" ", 1)[1].strip()
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def embedded_url(tmp_path: Path) -> str:
    return f"embedded://{tmp_path / 'log'}"
