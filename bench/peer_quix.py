"""W1/W2/W3 written for Quix Streams; runs in the harness's peers virtualenv, never the main one.

    bench/.peers-venv/bin/python bench/peer_quix.py --workload W1 --bootstrap 127.0.0.1:PORT \
        --out w1-out-quix --target 200000 --state-dir DIR --group G

Settings, and why they are fair:
- guarantee: Quix's default, at-least-once (streamz_kit's and Kafka Streams' default too);
- commit interval: Quix's default, 5 s (every framework runs at its own default; streamz_kit's
  at_least_once default is Kafka Streams' 30 s);
- caching: Quix has no record cache; every state update is produced (Quix's model);
- serdes: str keys, JSON values (Quix's own "json" serdes, orjson inside), as streamz_kit's;
- clients: Quix's defaults on confluent-kafka/librdkafka (prefetching consumer, linger 5 ms);
  loglevel WARNING so no per-record logging;
- idioms: W1 `filter(...).apply(...)`, W2 a stateful `apply` on its RocksDB state (changelog
  on, Quix's default), W3 `hopping_window(...).count().current()`.
Counting uses Quix's own hook `on_message_processed` (called once per input message after the
dataframe ran), not a callback inside the pipeline; it stops the app once `--target` messages
went through, and Quix commits its checkpoint as it stops (producer flush, offsets).
Rate = (messages - 1) / (end of that last checkpoint commit - time of the first): start-up
excluded, the final flush counted, as sk_runner.py measures streamz_kit (bench/runner_io.py).
The end of a commit is stamped around Quix's own `Checkpoint.commit`, which runs unchanged.
The harness also times the drain from outside (bench/drain.py) and prints both. Prints
`BENCH_RESULT {json}`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quixstreams import Application  # noqa: E402
from quixstreams.checkpointing import Checkpoint  # noqa: E402
from runner_io import peak_rss_kb, peer_args, result_line, window_rate  # noqa: E402
from workloads import INPUT_TOPIC, WINDOW_ADVANCE_MS, WINDOW_SIZE_MS, w1_keep, w1_map  # noqa: E402


def stamp_commits() -> list[float]:
    """The CLOCK_MONOTONIC end of every checkpoint commit (Quix's own, unchanged)."""
    ends: list[float] = []
    commit = Checkpoint.commit

    def timed(self: Checkpoint, *args: Any, **kwargs: Any) -> Any:
        out = commit(self, *args, **kwargs)
        ends.append(time.monotonic())
        return out

    Checkpoint.commit = timed
    return ends


def main() -> int:
    args = peer_args()
    seen = 0
    first = last = 0.0
    target = args.target

    def processed(topic: str, partition: int, offset: int) -> None:
        nonlocal seen, first, last
        seen += 1
        if seen == 1:
            first = time.monotonic()
        elif seen >= target:
            last = time.monotonic()
            app.stop()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
        on_message_processed=processed,
    )

    inp = app.topic(INPUT_TOPIC, key_deserializer="str", value_deserializer="json")
    out = app.topic(args.out, key_serializer="str", value_serializer="json")
    sdf = app.dataframe(inp)
    if args.workload == "W1":
        sdf = sdf.filter(w1_keep).apply(w1_map)
    elif args.workload == "W2":

        def count(value: dict[str, Any], state: Any) -> int:
            n = state.get("count", 0) + 1
            state.set("count", n)
            return n

        sdf = sdf.apply(count, stateful=True)
    elif args.workload == "W3":
        sdf = (
            sdf.hopping_window(duration_ms=WINDOW_SIZE_MS, step_ms=WINDOW_ADVANCE_MS)
            .count()
            .current()
        )
    else:
        raise SystemExit(f"unknown workload {args.workload}")
    sdf.to_topic(out)
    commit_ends = stamp_commits()
    t0 = time.monotonic()
    app.run()
    t_end = time.monotonic()
    # the last output durable: the end of the checkpoint commit Quix makes as it stops
    flushed = commit_ends[-1] if commit_ends and last and commit_ends[-1] >= last else None
    start, end = ((first, 1), (last, seen)) if last > first else (None, None)
    result = {
        "rate": window_rate(start, end, flushed or last) or 0.0,
        "processing_rate": window_rate(start, end, last),
        "processed": seen,
        "startup_s": first - t0 if first else None,
        "window_s": last - first,
        "first_mono": first or None,  # CLOCK_MONOTONIC: the outside timing starts here
        "first_count": 1,  # stamped after the first message was processed
        "last_mono": last or None,
        "flushed_mono": flushed,
        "flush_s": flushed - last if flushed else None,
        "stop_s": t_end - last if last else None,
        "peak_rss_kb": peak_rss_kb(),
    }
    print(result_line(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
