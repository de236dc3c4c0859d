"""W2 (a count per key, bench/workloads.py) as an application file, so the workers benchmark
starts it the way a user would: `streamz-kit run bench/apps/w2_app.py --workers N --broker ...`.
The output topic comes from BENCH_OUT; everything else from the command line."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workloads import sk_topology  # noqa: E402

import streamz_kit as sk  # noqa: E402

app = sk.App(
    sk_topology("W2", os.environ.get("BENCH_OUT", "w2-out")),
    application_id="bench-w2-workers",
)
