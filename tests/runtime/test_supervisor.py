"""The `--workers N` supervisor without a broker: restart after a crash, clean stop on
SIGTERM, giving up on repeated fast crashes, the workers setting."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import ConfigError
from streamz_kit.runtime.supervisor import WORKER_ENV, Supervisor


def _topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING).to("out")
    return builder.build()


def test_crashed_worker_is_restarted_and_sigterm_stops_all_cleanly(tmp_path: Path) -> None:
    def target(index: int) -> int:
        assert os.environ[WORKER_ENV] == str(index)
        marker = tmp_path / f"crashed-{index}"
        if index == 1 and not marker.exists():
            marker.touch()
            os._exit(9)  # the first run of worker 1 crashes
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        (tmp_path / f"ready-{index}-{os.getpid()}").touch()
        time.sleep(60)
        return 3  # not reached: SIGTERM ends the sleep with a clean exit

    lines: list[str] = []
    sup = Supervisor(target, 2, backoff_seconds=0.01, echo=lines.append)

    def stop_when_ready() -> None:
        while len(list(tmp_path.glob("ready-*"))) < 2:
            time.sleep(0.02)
        sup.stop()

    stopper = threading.Thread(target=stop_when_ready, daemon=True)
    stopper.start()
    assert sup.run() == 0, lines
    stopper.join(5)
    assert sum(1 for line in lines if line.startswith("worker 1 is pid")) == 2, lines
    assert any(line.startswith("worker 1 died (exit code 9)") for line in lines), lines
    assert "worker 0 stopped (exit code 0)." in lines and "worker 1 stopped (exit code 0)." in lines


def test_repeated_fast_crashes_give_up_with_a_sentence() -> None:
    lines: list[str] = []
    sup = Supervisor(lambda index: 4, 1, backoff_seconds=0.01, give_up_after=3, echo=lines.append)
    assert sup.run() == 1
    assert sum(1 for line in lines if line.startswith("worker 0 is pid")) == 3, lines
    assert any("died 3 times in a row" in line and "giving up" in line for line in lines), lines


def test_workers_setting_is_validated() -> None:
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        sk.App(_topology(), application_id="w", workers=0)
    app = sk.App(_topology(), application_id="w", broker="kafka://127.0.0.1:1")
    assert app.configure(workers=3).config.workers == 3
