"""Tail `recommendations` (or `trending`) and print each record readably.

    python examples/recommendations/viewer.py                    # new records from now on
    python examples/recommendations/viewer.py --from-beginning --max-records 20
    python examples/recommendations/viewer.py --topic trending

Reads committed records only (the embedded broker never shows anything else; on Kafka the
consumer is read_committed), outside any consumer group, so it never disturbs the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from streamz_kit import serdes
from streamz_kit.transport import ConsumedRecord, TopicPartition, connect

if __package__:
    from .pipeline import OUTPUT_TOPIC, TRENDS_TOPIC
    from .schemas import recommendation_serde, registry_from_env
else:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import OUTPUT_TOPIC, TRENDS_TOPIC  # type: ignore[no-redef]
    from schemas import recommendation_serde, registry_from_env  # type: ignore[no-redef]

DEFAULT_BROKER = "embedded://.streamz"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def tail(
    broker: str,
    topic: str,
    on_record: Callable[[ConsumedRecord], None],
    *,
    from_beginning: bool = False,
    stop: asyncio.Event | None = None,
    max_records: int | None = None,
    idle_timeout: float | None = None,
    wait_for_topic: float = 30.0,
) -> int:
    """Call `on_record` for each committed record of `topic`; returns how many were seen.

    Stops when `stop` is set, after `max_records`, or after `idle_timeout` seconds with
    nothing new. Waits up to `wait_for_topic` seconds for the topic to be created, so the
    viewer can be started before the generator.
    """
    transport = connect(broker)
    await transport.start()
    seen = 0
    try:
        admin = transport.admin()
        deadline = time.monotonic() + wait_for_topic
        while True:
            counts = await admin.partition_counts([topic])
            if topic in counts or time.monotonic() > deadline:
                break
            if stop is not None and stop.is_set():
                return 0
            await asyncio.sleep(0.1)
        if topic not in counts:
            raise LookupError(
                f"Topic {topic!r} does not exist on {broker}; start the generator "
                "or the worker first."
            )
        parts = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer = transport.consumer(group_id=None, read_committed=True)
        consumer.assign(parts)
        if not from_beginning:
            for tp, offset in (await admin.list_offsets(parts, "latest")).items():
                consumer.seek(tp, offset)
        await admin.close()
        idle_since = time.monotonic()
        while not (stop is not None and stop.is_set()):
            batches = await consumer.poll(100, max_records=1000)
            if not batches:
                if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                    break
                continue
            idle_since = time.monotonic()
            for records in batches.values():
                for record in records:
                    on_record(record)
                    seen += 1
                    if max_records is not None and seen >= max_records:
                        return seen
    finally:
        await transport.close()
    return seen


def format_recommendation(key: str | None, value: Any, latency_ms: int | None = None) -> Text:
    """One line: user, favourite categories, the recommended items, and the delay."""
    line = Text()
    line.append(f"{key or '?':<11}", style="bold cyan")
    if not isinstance(value, dict):
        line.append(f" {value!r}")
        return line
    cats = ", ".join(value.get("categories", [])) or "(no favourites yet)"
    line.append(f" ♥ {cats:<24}", style="magenta")
    items = value.get("items", [])
    line.append(" → ")
    line.append("  ".join(f"{i['item']} ({i['score']:.2f})" for i in items) or "—", style="green")
    line.append(f"  [{value.get('actions', 0)} actions]", style="dim")
    if latency_ms is not None:
        line.append(f"  {latency_ms} ms", style="yellow")
    return line


def format_trend(key: str | None, value: Any) -> Text:
    line = Text()
    line.append(f"{key or '?':<10}", style="bold magenta")
    line.append(" trending: ")
    line.append("  ".join(f"{item} ×{score}" for item, score in (value or [])), style="green")
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print recommendations as they are produced.")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="broker URL (%(default)s)")
    parser.add_argument(
        "--topic", default=OUTPUT_TOPIC, help=f"{OUTPUT_TOPIC!r} or {TRENDS_TOPIC!r} (%(default)s)"
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start at the oldest record instead of the newest",
    )
    parser.add_argument("--max-records", type=int, default=None, help="stop after N records")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="stop after this many seconds without a new record",
    )
    args = parser.parse_args(argv)
    console = Console(highlight=False)

    values: Any = serdes.JSON
    registry = registry_from_env()
    if args.topic == OUTPUT_TOPIC and registry is not None:  # Avro (SCHEMA_REGISTRY_URL)
        values = recommendation_serde(registry)

    def show(record: ConsumedRecord) -> None:
        key = serdes.STRING.deserialize(args.topic, record.key)
        value = values.deserialize(args.topic, record.value)
        if args.topic == TRENDS_TOPIC:
            console.print(format_trend(key, value))
        else:
            latency = None if args.from_beginning else now_ms() - record.timestamp
            console.print(format_recommendation(key, value, latency))

    try:
        asyncio.run(
            tail(
                args.broker,
                args.topic,
                show,
                from_beginning=args.from_beginning,
                max_records=args.max_records,
                idle_timeout=args.idle_timeout,
            )
        )
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 -- one clear sentence, not a traceback
        console.print(f"[red]viewer:[/red] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
