"""The two ways the demo can run the topology against a broker, behind one small interface.

- `AppWorker`: the real runtime, `sk.App`, in this process (the normal case).
- `DriverWorker`: the same topology driven record by record through the
  `TopologyTestDriver`, with a consumer and a producer of our own around it. It predates the
  App and stays as a readable picture of what a worker does: read a batch, process each
  record completely, write the outputs, remember the position.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any, Protocol

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.transport import ProducerRecord, TopicPartition, connect
from streamz_kit.transport.partitioner import default_partition

if __package__:
    from .pipeline import (
        APPLICATION_ID,
        INPUT_TOPIC,
        OUTPUT_TOPIC,
        PROFILE_STORE,
        TRENDS_TOPIC,
        build_topology,
    )
else:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from pipeline import (  # type: ignore[no-redef]
        APPLICATION_ID,
        INPUT_TOPIC,
        OUTPUT_TOPIC,
        PROFILE_STORE,
        TRENDS_TOPIC,
        build_topology,
    )


class DemoWorker(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def profile(self, user: str) -> Any: ...


class AppWorker:
    """`sk.App` in this process, exactly_once (commits every 100 ms)."""

    name = "sk.App (exactly_once)"

    def __init__(
        self, broker: str, state_dir: str, registry: Any = None, scoring_url: str | None = None
    ) -> None:
        app_class = sk.App
        self.app = app_class(
            build_topology(registry=registry, scoring_url=scoring_url),
            application_id=APPLICATION_ID,
            broker=broker,
            state_dir=state_dir,
            processing_guarantee="exactly_once",
        )

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()

    def profile(self, user: str) -> Any:
        return self.app.store(PROFILE_STORE).get(user)


class DriverWorker:
    """The topology through the TopologyTestDriver, fed from and writing to the broker."""

    name = "TopologyTestDriver loop"

    def __init__(self, broker: str, registry: Any = None, scoring_url: str | None = None) -> None:
        self.broker = broker
        self._driver = TopologyTestDriver(
            build_topology(registry=registry, scoring_url=scoring_url),
            config={"application_id": APPLICATION_ID},
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        transport = connect(self.broker)
        await transport.start()
        admin = transport.admin()
        counts = await admin.partition_counts([INPUT_TOPIC])
        await admin.close()
        if INPUT_TOPIC not in counts:
            await transport.close()
            raise LookupError(f"Topic {INPUT_TOPIC!r} does not exist; create it first.")
        consumer = transport.consumer(group_id=None)
        consumer.assign(TopicPartition(INPUT_TOPIC, p) for p in range(counts[INPUT_TOPIC]))
        self._task = asyncio.get_running_loop().create_task(self._loop(transport, consumer))

    async def _loop(self, transport: Any, consumer: Any) -> None:
        driver = self._driver
        inp = driver.create_input_topic(
            INPUT_TOPIC, key_serde=serdes.BYTES, value_serde=serdes.BYTES
        )
        outputs = [
            driver.create_output_topic(t, key_serde=serdes.BYTES, value_serde=serdes.BYTES)
            for t in (OUTPUT_TOPIC, TRENDS_TOPIC)
        ]
        producer = transport.producer()
        admin = transport.admin()
        partitions = await admin.partition_counts([o.topic for o in outputs])
        try:
            while not self._stop.is_set():
                batches = await consumer.poll(50, max_records=2000)
                for records in batches.values():
                    for r in records:
                        inp.pipe_input(r.key, r.value, timestamp_ms=r.timestamp, headers=r.headers)
                for out in outputs:
                    n = partitions.get(out.topic, 1)
                    for rec in out.read_records_to_list():
                        producer.send(
                            ProducerRecord(
                                out.topic,
                                default_partition(rec.key, n),
                                rec.key,
                                rec.value,
                                rec.timestamp_ms,
                                rec.headers,
                            )
                        )
                await producer.flush()
        finally:
            await admin.close()
            await producer.close()
            await transport.close()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._driver.close()

    def profile(self, user: str) -> Any:
        return self._driver.get_key_value_store(PROFILE_STORE).get(user)


def make_worker(
    kind: str, broker: str, state_dir: str, registry: Any = None, scoring_url: str | None = None
) -> DemoWorker:
    """`kind` is 'app', 'driver', or 'auto' (the App when streamz_kit exports it); with a
    schema `registry`, actions and recommendations are Avro; with a `scoring_url`, each
    recommendation is re-ranked by that scoring service."""
    if kind == "auto":
        kind = "app" if hasattr(sk, "App") else "driver"
    if kind == "app":
        return AppWorker(broker, state_dir, registry, scoring_url)
    if kind == "driver":
        return DriverWorker(broker, registry, scoring_url)
    raise ValueError(f"Unknown worker kind {kind!r}; use 'app', 'driver' or 'auto'.")
