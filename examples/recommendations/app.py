"""The recommendations worker: `streamz-kit run examples/recommendations/app.py`.

The topology lives in pipeline.py (see its docstring for the picture); this module only
names it and wraps it in an App. exactly_once commits every 100 ms, so a profile change
reaches `recommendations` within a fraction of a second, and a crash never duplicates one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamz_kit as sk

if __package__:
    from .pipeline import APPLICATION_ID, build_topology
    from .schemas import registry_from_env
else:  # run as a script, or loaded by path by the CLI
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import APPLICATION_ID, build_topology  # type: ignore[no-redef]
    from schemas import registry_from_env  # type: ignore[no-redef]

# SCHEMA_REGISTRY_URL=embedded://.streamz (or http://...): Avro actions and recommendations
# through that registry, as the demo runs it; unset: JSON.
# SCORING_URL=http://127.0.0.1:PORT/score: every recommendation is re-ranked by that model
# server (`python examples/recommendations/scoring_service.py` starts one) through an
# awaited call per record; unset: no scoring step.
topology = build_topology(
    registry=registry_from_env(), scoring_url=os.environ.get("SCORING_URL") or None
)
# http_port serves the stores as JSON (curl localhost:8080/stores/user-profiles/user-00042)
# along with /topology, /status and Prometheus /metrics; `--http-port` overrides it.
app = sk.App(
    topology, application_id=APPLICATION_ID, processing_guarantee="exactly_once", http_port=8080
)

if __name__ == "__main__":
    app.run()
