"""The crash hook: a no-op unless asked, and a real SIGKILL at the named point when asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from streamz_kit.faults import ENV_POINTS, ENV_PROB, ENV_SEED, MARKER, parse_points

SCRIPT = "from streamz_kit.faults import maybe_crash\nfor p in {points!r}: maybe_crash(p)\n"


def _call(points: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("STREAMZ_FAULT_")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(points=points)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_no_op_without_the_environment() -> None:
    done = _call(["commit:after_produce", "restore:batch"])
    assert done.returncode == 0 and MARKER not in done.stderr


def test_kills_itself_at_the_named_point_and_says_where() -> None:
    done = _call(
        ["commit:after_drain", "commit:after_produce", "never:reached"],
        **{ENV_POINTS: "commit:after_produce"},
    )
    assert done.returncode == -signal.SIGKILL
    assert done.stderr.strip() == f"{MARKER}commit:after_produce"


def test_prefix_patterns_and_probability_zero() -> None:
    assert _call(["restore:batch"], **{ENV_POINTS: "restore:*"}).returncode == -signal.SIGKILL
    assert _call(["restore:batch"] * 50, **{ENV_POINTS: "restore:*@0"}).returncode == 0


def test_seeded_probability_replays() -> None:
    env = {ENV_POINTS: "commit:after_commit", ENV_PROB: "0.1", ENV_SEED: "42"}
    runs = [_call(["commit:after_commit"] * 200, **env) for _ in range(2)]
    assert {r.returncode for r in runs} == {-signal.SIGKILL}
    assert runs[0].stderr == runs[1].stderr


def test_parse_points() -> None:
    exact, prefixes = parse_points("commit:after_produce@0.25, restore:* ,x", 0.5)
    assert exact == {"commit:after_produce": 0.25, "x": 0.5}
    assert prefixes == [("restore:", 0.5)]
    with pytest.raises(ValueError, match=r"point@0.25"):
        parse_points("commit:after_produce@often")
