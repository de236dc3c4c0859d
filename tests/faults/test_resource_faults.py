"""Resource faults: an unusable state directory and a full disk give a clear error and a
clean stop, and committed work survives for the next start."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.e2e import APPS, produce, read_all, run


def _events(n: int) -> list[tuple[str, dict[str, object]]]:
    # Large values fill the logs fast, so a small file-size limit is reached mid-stream.
    return [(f"k{i % 5}", {"seq": i, "user": f"u{i % 7}", "pad": "x" * 400}) for i in range(n)]


def _worker(
    env: dict[str, str], log: Path, max_file_bytes: int | None = None, state_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    def limit() -> None:  # runs in the child: every file it writes is capped (a full disk)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        assert max_file_bytes is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    args = [sys.executable, "-m", "streamz_kit", "run", str(APPS / "count_app.py")]
    if state_dir is not None:
        args += ["--state-dir", str(state_dir), "--broker", env["E2E_BROKER"]]
    return subprocess.Popen(
        args,
        env={**os.environ, **env},
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=limit if max_file_bytes is not None else None,
    )


def test_state_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    run(produce(broker, "events", _events(10), partitions=1))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {"E2E_BROKER": broker}
    proc = _worker(env, tmp_path / "w.log", state_dir=blocker / "state")
    assert proc.wait(60) == 1
    out = (tmp_path / "w.log").read_text()
    assert "state directory" in out and "cannot be written" in out, out
    assert "Traceback" not in out, out


def test_disk_full_stops_cleanly_and_a_restart_loses_nothing(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    total = 3000
    run(produce(broker, "events", _events(total), partitions=2))
    env = {
        "E2E_BROKER": broker,
        "E2E_GUARANTEE": "exactly_once",
        "E2E_COMMIT_MS": "50",
        "E2E_CACHE_BYTES": "0",
    }
    # 1 MiB per file: the worker's writes (log WAL, RocksDB files) hit it mid-stream.
    proc = _worker(env, tmp_path / "full.log", max_file_bytes=1 << 20)
    code = proc.wait(120)
    out = (tmp_path / "full.log").read_text()
    assert code == 1, out[-3000:]
    assert out.count("Error:") == 1 and "Traceback" not in out, out[-3000:]
    done_before = len(run(read_all(broker, "copies")))
    assert done_before < total, "the limit should have stopped the worker mid-stream"

    proc = _worker(env, tmp_path / "again.log")
    deadline = time.monotonic() + 90
    while len(run(read_all(broker, "copies"))) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, (tmp_path / "again.log").read_text()[-3000:]
    import orjson

    seqs = sorted(orjson.loads(v)["seq"] for _, v in run(read_all(broker, "copies")))
    assert seqs == list(range(total)), "loss or duplicate across the full disk"
