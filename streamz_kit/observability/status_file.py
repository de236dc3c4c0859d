"""Status snapshots on disk: `<state_dir>/<application_id>/status-<pid>.json`.

Each worker rewrites its file every second or so (temp file + rename, so a reader never
sees half a file) and removes it on a clean stop; `streamz-kit status` reads them. A file
whose process is gone, or that has not been refreshed lately, is reported as stale.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

from streamz_kit.observability.queries import jsonable

STALE_AFTER_SECONDS = 10.0


def status_path(app_state_dir: Path, pid: int | None = None) -> Path:
    return app_state_dir / f"status-{os.getpid() if pid is None else pid}.json"


def write_status(path: Path, snapshot: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(snapshot, default=jsonable, option=orjson.OPT_NON_STR_KEYS))
    os.replace(tmp, path)


def remove_status(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def read_statuses(app_state_dir: Path, now: float | None = None) -> list[dict[str, Any]]:
    """Every worker's last snapshot, each with `live` saying whether it is still current."""
    now = time.time() if now is None else now
    out: list[dict[str, Any]] = []
    if not app_state_dir.is_dir():
        return out
    for path in sorted(app_state_dir.glob("status-*.json")):
        try:
            snap = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        age = now - float(snap.get("updated_at", 0))
        pid = int(snap.get("pid", 0))
        snap["age_seconds"] = round(age, 1)
        snap["live"] = bool(pid) and _alive(pid) and age < STALE_AFTER_SECONDS
        out.append(snap)
    return out
