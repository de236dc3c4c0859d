"""Write a realistic stream of user actions to `user-actions`.

    python examples/recommendations/generator.py --rate 500 --count 10000
    python examples/recommendations/generator.py --rate 0 --count 100000   # as fast as possible

Realistic means skewed, as real traffic is: a few users are very active (Zipf over users),
a few items get most of the attention (the catalogue's Zipf popularity), each user mostly
visits one to three favourite categories, and users skip far more often outside them.
Records are keyed by user and partitioned with Kafka's partitioner, so the worker's
`group_by_key` needs no repartition; the record timestamp is the action's wall-clock time,
which the demo uses to measure end-to-end latency.

With a schema registry (the demo passes one; here SCHEMA_REGISTRY_URL) actions are Avro
(schemas.py), else JSON. With `evolve_after=N` the generator switches, after N actions and
while the worker runs, to the next schema version (a new optional `device` field): the
registry checks the change is compatible, and the worker's reader schema reads both.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamz_kit import serdes
from streamz_kit.transport import ProducerRecord, TopicSpec, Transport, connect
from streamz_kit.transport.partitioner import default_partition

if __package__:
    from . import domain, schemas
    from .pipeline import (
        CATALOGUE_SEED,
        CATALOGUE_TOPIC,
        INPUT_TOPIC,
        OUTPUT_TOPIC,
        TRENDS_TOPIC,
    )
else:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import domain  # type: ignore[no-redef]
    import schemas  # type: ignore[no-redef]
    from pipeline import (  # type: ignore[no-redef]
        CATALOGUE_SEED,
        CATALOGUE_TOPIC,
        INPUT_TOPIC,
        OUTPUT_TOPIC,
        TRENDS_TOPIC,
    )

DEFAULT_BROKER = "embedded://.streamz"

# P(kind) inside a user's favourite categories, and outside them.
_KINDS = ("view", "like", "purchase", "skip")
_IN_FAVOURITES = (0.62, 0.20, 0.08, 0.10)
_ELSEWHERE = (0.60, 0.05, 0.01, 0.34)
# A user's first favourite category gets the most visits: weights 1, 1/2, 1/3.
_FAVOURITE_CUM = {n: list(itertools.accumulate(1.0 / (i + 1) for i in range(n))) for n in (1, 2, 3)}


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(itertools.accumulate(weights))


class ActionSource:
    """A seeded, endless source of actions: the same seed gives the same sequence."""

    def __init__(
        self,
        catalogue: domain.Catalogue,
        *,
        users: int = 1000,
        seed: int = 1,
        favourite_share: float = 0.8,
    ) -> None:
        if users < 1:
            raise ValueError("The generator needs at least one user.")
        self._rng = random.Random(seed)
        self._catalogue = catalogue
        self._categories = catalogue.categories
        self._favourite_share = favourite_share
        self.users = [f"user-{i:05d}" for i in range(users)]
        self._user_cum = _cumulative([1.0 / (i + 1) ** 0.9 for i in range(users)])
        self._favourites = [
            self._rng.sample(
                self._categories, k=self._rng.randint(1, min(3, len(self._categories)))
            )
            for _ in range(users)
        ]
        self._items_cum: dict[str, tuple[tuple[str, ...], list[float]]] = {}
        for category, ids in catalogue.by_category.items():
            if ids:
                weights = [catalogue.items[i].popularity for i in ids]
                self._items_cum[category] = (ids, _cumulative(weights))
        self._categories = [c for c in self._categories if c in self._items_cum]
        self._in_cum = _cumulative(_IN_FAVOURITES)
        self._else_cum = _cumulative(_ELSEWHERE)

    def _pick(self, cum: list[float]) -> int:
        return min(bisect.bisect(cum, self._rng.random() * cum[-1]), len(cum) - 1)

    def next_action(self, now_ms: int) -> domain.Action:
        u = self._pick(self._user_cum)
        favourites = [c for c in self._favourites[u] if c in self._items_cum]
        in_favourites = bool(favourites) and self._rng.random() < self._favourite_share
        if in_favourites:
            category = favourites[self._pick(_FAVOURITE_CUM[len(favourites)])]
        else:
            category = self._categories[self._rng.randrange(len(self._categories))]
        ids, cum = self._items_cum[category]
        item = ids[self._pick(cum)]
        kinds_cum = self._in_cum if category in favourites else self._else_cum
        kind = _KINDS[self._pick(kinds_cum)]
        return {
            "user": self.users[u],
            "item": item,
            "category": category,
            "kind": kind,
            "ts": now_ms,
        }  # type: ignore[typeddict-item]


async def ensure_topics(transport: Transport, partitions: int = 4) -> dict[str, int]:
    """Create the example's topics if missing; returns each topic's partition count.
    A new `item-catalogue` topic gets the seeded catalogue, one record per item; after
    that it is a live table: `streamz-kit produce item-catalogue` can move an item."""
    admin = transport.admin()
    try:
        topics = (INPUT_TOPIC, OUTPUT_TOPIC, TRENDS_TOPIC, CATALOGUE_TOPIC)
        had_catalogue = CATALOGUE_TOPIC in await admin.partition_counts([CATALOGUE_TOPIC])
        # The catalogue is a table: compacted, so retention never deletes an item still live.
        await admin.create_topics(
            [
                TopicSpec(
                    t, partitions, {"cleanup.policy": "compact"} if t == CATALOGUE_TOPIC else {}
                )
                for t in topics
            ]
        )
        counts = await admin.partition_counts(topics)
    finally:
        await admin.close()
    if not had_catalogue:
        await publish_catalogue(
            transport, domain.make_catalogue(CATALOGUE_SEED), counts[CATALOGUE_TOPIC]
        )
    return counts


async def publish_catalogue(
    transport: Transport,
    catalogue: domain.Catalogue,
    partitions: int,
    items: list[str] | None = None,
) -> None:
    """Write catalogue entries (all, or `items`) to `item-catalogue`, keyed by item id."""
    producer = transport.producer()
    now = _now_ms()
    for item_id in items if items is not None else sorted(catalogue.items):
        key = item_id.encode()
        entry = domain.catalogue_entry(catalogue.items[item_id])
        producer.send(
            ProducerRecord(
                CATALOGUE_TOPIC,
                default_partition(key, partitions),
                key,
                serdes.JSON.serialize(CATALOGUE_TOPIC, entry),
                now,
            )
        )
    await producer.flush()
    await producer.close()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def produce_actions(
    broker: str = DEFAULT_BROKER,
    *,
    count: int | None = None,
    rate: float = 200.0,
    users: int = 1000,
    seed: int = 1,
    partitions: int = 4,
    stop: asyncio.Event | None = None,
    on_flush: Callable[[int], None] | None = None,
    evolve_after: int | None = None,
    registry: Any = None,
) -> int:
    """Produce until `count` records are written or `stop` is set; returns how many were.

    `rate` is records per second (0: as fast as possible). Records go out in batches
    flushed every 50 ms or 2,000 records, so a slow disk never makes the rate drift.
    With a schema `registry`, actions are Avro: UserAction v1, and from the
    `evolve_after`-th on (if given) v2, which adds the optional `device` field.
    """
    transport = connect(broker)
    await transport.start()
    source = ActionSource(domain.make_catalogue(CATALOGUE_SEED), users=users, seed=seed)
    v1: Any = serdes.JSON
    v2: Any = serdes.JSON
    if registry is not None:
        v1 = schemas.action_serde(registry, schemas.ACTION_V1)
        v2 = schemas.action_serde(registry, schemas.ACTION_V2)
    devices = ("mobile", "web", "tv")
    sent = 0
    try:
        n_parts = (await ensure_topics(transport, partitions))[INPUT_TOPIC]
        producer = transport.producer()
        started = time.monotonic()
        while (count is None or sent < count) and not (stop is not None and stop.is_set()):
            if rate > 0:
                due = int((time.monotonic() - started) * rate) - sent
                if due <= 0:
                    await asyncio.sleep(0.02)
                    continue
                batch = min(due, 2_000)
            else:
                batch = 2_000
            if count is not None:
                batch = min(batch, count - sent)
            now = _now_ms()
            for i in range(batch):
                action: dict[str, Any] = dict(source.next_action(now))
                key = action["user"].encode()
                serde = v1
                if evolve_after is not None and sent + i >= evolve_after:
                    action["device"] = devices[(sent + i) % len(devices)]
                    serde = v2
                producer.send(
                    ProducerRecord(
                        INPUT_TOPIC,
                        default_partition(key, n_parts),
                        key,
                        serde.serialize(INPUT_TOPIC, action),
                        now,
                    )
                )
            await producer.flush()
            sent += batch
            if on_flush is not None:
                on_flush(sent)
            await asyncio.sleep(0)
        await producer.close()
    finally:
        await transport.close()
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write user actions to 'user-actions'.")
    parser.add_argument("--broker", default=DEFAULT_BROKER, help="broker URL (%(default)s)")
    parser.add_argument(
        "--count", type=int, default=None, help="records to write (default: forever)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="records per second, 0 for as fast as possible (%(default)s)",
    )
    parser.add_argument("--users", type=int, default=1000, help="distinct users (%(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (%(default)s)")
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions of topics created here (%(default)s)"
    )
    parser.add_argument(
        "--evolve-after",
        type=int,
        default=None,
        help="switch to UserAction v2 (adds `device`) after N actions",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    total = 0

    def progress(sent: int) -> None:
        nonlocal total
        total = sent

    try:
        asyncio.run(
            produce_actions(
                args.broker,
                count=args.count,
                rate=args.rate,
                users=args.users,
                seed=args.seed,
                partitions=args.partitions,
                on_flush=progress,
                evolve_after=args.evolve_after,
                registry=schemas.registry_from_env(),
            )
        )
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 -- one clear sentence, not a traceback
        print(f"generator: {exc}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(
        f"wrote {total} actions to {INPUT_TOPIC!r} in {elapsed:.1f} s "
        f"({total / max(elapsed, 1e-9):.0f}/s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
