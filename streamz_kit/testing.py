"""`TopologyTestDriver`: run a topology record by record, synchronously, with no broker.

It runs the same Task code as the App. Every piped record is processed completely (through
every repartition hop) and then committed, so every update reaches the output, as in Kafka
Streams' driver. Stores live in a temporary directory that `close()` removes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamz_kit import serdes as _serdes
from streamz_kit.errors import StreamzError, TopologyError
from streamz_kit.handlers import ErrorHandlers
from streamz_kit.runtime import commit
from streamz_kit.runtime.task import Task, task_id_of
from streamz_kit.state.manager import StateManager
from streamz_kit.state.views import read_only_view
from streamz_kit.topology.compiler import SubTopology
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord, TopicPartition

__all__ = ["TestInputTopic", "TestOutputTopic", "TestRecord", "TopologyTestDriver"]

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class TestRecord:
    """A record read from an output topic."""

    __test__ = False  # not a pytest test class

    key: Any
    value: Any
    timestamp_ms: int
    headers: Headers = ()

    @property
    def timestamp(self) -> int:
        return self.timestamp_ms


class TestInputTopic:
    __test__ = False

    def __init__(
        self,
        driver: TopologyTestDriver,
        topic: str,
        key_serde: Any,
        value_serde: Any,
        start_timestamp_ms: int | None,
        auto_advance_ms: int,
    ) -> None:
        self._driver = driver
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._time = driver.wall_clock_ms if start_timestamp_ms is None else start_timestamp_ms
        self._advance = auto_advance_ms

    def _next_time(self, timestamp_ms: int | None) -> int:
        if timestamp_ms is not None:
            return int(timestamp_ms)
        ts = self._time
        self._time += self._advance
        return ts

    def pipe_input(
        self,
        key: Any = None,
        value: Any = None,
        timestamp_ms: int | None = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
    ) -> None:
        """Process one record completely (through every repartition hop) and commit."""
        key_bytes = self._key_serde.serialize(self.topic, key)
        value_bytes = self._value_serde.serialize(self.topic, value)
        self._driver._pipe(
            self.topic, key_bytes, value_bytes, self._next_time(timestamp_ms), tuple(headers or ())
        )

    def pipe_value_list(self, values: Iterable[Any], timestamp_ms: int | None = None) -> None:
        for value in values:
            self.pipe_input(None, value, timestamp_ms)

    def pipe_key_value_list(
        self,
        pairs: Iterable[tuple[Any, Any]],
        timestamp_ms: int | None = None,
        advance_ms: int = 0,
    ) -> None:
        ts = timestamp_ms
        for key, value in pairs:
            self.pipe_input(key, value, ts)
            if ts is not None:
                ts += advance_ms

    def pipe_record_list(self, records: Iterable[Any]) -> None:
        for record in records:
            self.pipe_input(
                record.key,
                record.value,
                getattr(record, "timestamp_ms", None),
                getattr(record, "headers", None),
            )

    def advance_time(self, ms: int) -> None:
        self._time += ms


class TestOutputTopic:
    __test__ = False

    def __init__(
        self, driver: TopologyTestDriver, topic: str, key_serde: Any, value_serde: Any
    ) -> None:
        self._queue = driver._output_queue(topic)
        self.topic = topic
        self._key_serde = key_serde
        self._value_serde = value_serde

    def _read(self) -> TestRecord:
        if not self._queue:
            raise StreamzError(
                f"Output topic {self.topic!r} is empty; check is_empty() first or pipe more input."
            )
        rec = self._queue.popleft()
        return TestRecord(
            self._key_serde.deserialize(self.topic, rec.key),
            self._value_serde.deserialize(self.topic, rec.value),
            rec.timestamp,
            rec.headers,
        )

    def read_record(self) -> TestRecord:
        return self._read()

    def read_value(self) -> Any:
        return self._read().value

    def read_key_value(self) -> tuple[Any, Any]:
        rec = self._read()
        return rec.key, rec.value

    def read_values_to_list(self) -> list[Any]:
        return [self._read().value for _ in range(len(self._queue))]

    def read_key_values_to_list(self) -> list[tuple[Any, Any]]:
        return [self.read_key_value() for _ in range(len(self._queue))]

    def read_key_values_to_map(self) -> dict[Any, Any]:
        return dict(self.read_key_values_to_list())

    def read_records_to_list(self) -> list[TestRecord]:
        return [self._read() for _ in range(len(self._queue))]

    def get_queue_size(self) -> int:
        return len(self._queue)

    def is_empty(self) -> bool:
        return not self._queue


class _ChangelogLog:
    """The driver's stand-in for a broker at commit step 3: it numbers the changelog
    records sent to each partition and reports the last offset written, as a flush does."""

    def __init__(self) -> None:
        self._ends: dict[TopicPartition, int] = {}
        self._written: dict[TopicPartition, int] = {}

    def send(self, record: ProducerRecord) -> None:
        tp = TopicPartition(record.topic, record.partition)
        offset = self._ends.get(tp, 0)
        self._ends[tp] = offset + 1
        self._written[tp] = offset

    def flush(self) -> dict[TopicPartition, int]:
        written, self._written = self._written, {}
        return written


class TopologyTestDriver:
    """Drive a topology without a broker. Use as a context manager."""

    __test__ = False

    def __init__(
        self,
        topology: Topology,
        config: dict[str, Any] | None = None,
        initial_wall_clock_time_ms: int = 0,
    ) -> None:
        if not isinstance(topology, Topology):
            raise TopologyError(
                "TopologyTestDriver takes a Topology; call builder.build() and pass the result."
            )
        self.topology = topology
        self.config = dict(config or {})
        self.application_id = str(self.config.get("application_id", "test-driver"))
        self.wall_clock_ms = int(initial_wall_clock_time_ms)
        self._state_dir = Path(tempfile.mkdtemp(prefix="streamz-driver-"))
        self._outputs: dict[str, deque[ProducerRecord]] = {}
        self._offsets: dict[str, int] = {}
        self._log = _ChangelogLog()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None  # async operators (see _settle_async)
        self.stores: dict[str, Any] = {}  # every store, for the nodes and for queries
        self.tasks: list[Task] = []
        self._task_by_topic: dict[str, Task] = {}
        subs = list(topology.subtopologies)
        for name, g in topology.graph.global_stores.items():
            nodes = [g.source_node, g.processor_node]
            subs.append(SubTopology(id=len(subs), nodes=nodes, stores=[name]))
        # One owner per store: the task of the sub-topology using it (or, for a store no
        # processor uses, a manager of its own), created before any store is opened.
        app = self.application_id

        def changelog(store: str) -> str:
            return f"{app}-{store}-changelog"

        self._states = [StateManager(task_id_of(sub.id, 0), 0, changelog) for sub in subs]
        owner = {name: state for sub, state in zip(subs, self._states) for name in sub.stores}
        self._states.append(StateManager("unconnected", 0, changelog))
        try:
            for name in topology.store_names:
                state = owner.get(name, self._states[-1])
                store = topology.store_builder(name).build(self._state_dir / name)
                self.stores[name] = state.register(name, store)
            for sub, state in zip(subs, self._states):
                task = Task(
                    topology=topology,
                    subtopology=sub,
                    partition=0,
                    application_id=self.application_id,
                    stores=self.stores,
                    state_manager=state,
                    partition_count=lambda topic: 1,
                    wall_clock_ms=lambda: self.wall_clock_ms,
                    # The record cache is on, as in Kafka's driver, and flushed after every
                    # record, so every update still reaches the output.
                    cache_max_entries=int(self.config.get("cache_max_bytes", 10 << 20)) // 256,
                    handlers=ErrorHandlers.build(
                        self.config.get("deserialization_error_handler"),
                        self.config.get("processing_error_handler"),
                        self.config.get("production_error_handler"),
                    ),
                )
                self.tasks.append(task)
                task.start()  # its stores are new and empty: nothing to restore
                for topic in task.sources:
                    self._task_by_topic[topic] = task
        except BaseException:
            self.close()  # a processor that fails in init must not leak stores or the temp dir
            raise

    # -- topics -----------------------------------------------------------------------------
    def create_input_topic(
        self,
        topic: str,
        *,
        key_serde: Any = _serdes.STRING,
        value_serde: Any = _serdes.JSON,
        start_timestamp_ms: int | None = None,
        auto_advance_ms: int = 0,
    ) -> TestInputTopic:
        if topic not in self._task_by_topic:
            raise TopologyError(
                f"Topic {topic!r} is not read by this topology; its input topics are "
                f"{sorted(t for t in self._task_by_topic if t in self.topology.user_source_topics)}."
            )
        return TestInputTopic(
            self, topic, key_serde, value_serde, start_timestamp_ms, auto_advance_ms
        )

    def create_output_topic(
        self, topic: str, *, key_serde: Any = _serdes.STRING, value_serde: Any = _serdes.JSON
    ) -> TestOutputTopic:
        return TestOutputTopic(self, topic, key_serde, value_serde)

    def _output_queue(self, topic: str) -> deque[ProducerRecord]:
        return self._outputs.setdefault(topic, deque())

    def produced_topic_names(self) -> set[str]:
        return set(self._outputs)

    # -- processing -------------------------------------------------------------------------
    def _pipe(
        self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers
    ) -> None:
        self._check_open()
        pending: deque[ConsumedRecord] = deque(
            [self._as_consumed(topic, key, value, timestamp, headers)]
        )
        self._run(pending)

    def _as_consumed(
        self, topic: str, key: bytes | None, value: bytes | None, timestamp: int, headers: Headers
    ) -> ConsumedRecord:
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        return ConsumedRecord(topic, 0, offset, timestamp, key, value, headers)

    def _run(self, pending: deque[ConsumedRecord]) -> None:
        """Process until no record is left in flight, then commit every store."""
        while True:
            while pending:
                record = pending.popleft()
                self._task_by_topic[record.topic].process(record)
                self._route_outputs(pending)
            self._settle_async()
            self._route_outputs(pending)
            for task in self.tasks:
                task.flush_caches()
            self._route_outputs(pending)
            if not pending:
                break
        self._commit()

    def _settle_async(self) -> None:
        """Async operators: await every call before pipe_input returns (deterministic tests),
        on one event loop the driver keeps (so objects bound to it live across records).
        Inside a running loop (an async test) that loop runs in a helper thread."""
        busy = [task for task in self.tasks if task.async_nodes]
        if not busy:
            return
        if self._loop is None:
            self._loop = asyncio.new_event_loop()

        async def settle() -> None:
            for task in busy:
                await task.settle_async()

        self._run_on_loop(settle())

    def _run_on_loop(self, awaitable: Any) -> None:
        loop = self._loop
        assert loop is not None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop running here: the usual case
            loop.run_until_complete(awaitable)
            return
        with concurrent.futures.ThreadPoolExecutor(1) as helper:
            helper.submit(loop.run_until_complete, awaitable).result()

    def _route_outputs(self, pending: deque[ConsumedRecord]) -> None:
        for task in self.tasks:
            for rec in task.drain_output():
                if rec.topic in self._task_by_topic:
                    pending.append(
                        self._as_consumed(rec.topic, rec.key, rec.value, rec.timestamp, rec.headers)
                    )
                    if rec.topic.startswith(f"{self.application_id}-"):
                        continue  # internal repartition topics are not outputs
                self._output_queue(rec.topic).append(rec)

    def _commit(self) -> None:
        """The App's commit steps (runtime/commit.py) after every record: drain, produce
        to the driver's changelog log (which numbers the records, as a broker's commit
        would), apply. Outputs were routed already, so step 1 finds none."""
        for task in self.tasks:
            drained = commit.drain(task)
            commit.produce(self._log, drained)
            commit.apply(task, self._log.flush())

    def advance_wall_clock_time(self, ms: int | Any) -> None:
        """Move the driver's clock forward and run due wall-clock punctuations."""
        self._check_open()
        from streamz_kit.windows import to_millis

        self.wall_clock_ms += to_millis(ms, "advance")
        for task in self.tasks:
            task.punctuate_wall_clock(self.wall_clock_ms)
        self._run(deque())

    # -- stores -----------------------------------------------------------------------------
    def _store(self, name: str) -> Any:
        try:
            return self.stores[name]
        except KeyError:
            raise StreamzError(
                f"No state store named {name!r}; this topology has {sorted(self.stores)}."
            ) from None

    def get_state_store(self, name: str) -> Any:
        return read_only_view(self._store(name))

    def get_key_value_store(self, name: str) -> Any:
        return read_only_view(self._store(name))

    def get_timestamped_key_value_store(self, name: str) -> Any:
        return self._store(name)

    def get_window_store(self, name: str) -> Any:
        return read_only_view(self._store(name))

    def get_session_store(self, name: str) -> Any:
        return read_only_view(self._store(name))

    def get_all_state_stores(self) -> dict[str, Any]:
        return {name: read_only_view(store) for name, store in self.stores.items()}

    # -- lifecycle --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StreamzError("This TopologyTestDriver is closed; create a new one.")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self.tasks:
            task.close()  # its nodes and its stores
        if self._loop is not None:
            self._run_on_loop(asyncio.sleep(0))  # let cancelled calls finish
            self._loop.close()
            self._loop = None
        closed = {id(task.state_manager) for task in self.tasks}
        for state in self._states:
            if id(state) not in closed:  # stores no task uses, or tasks never created
                state.close()
        shutil.rmtree(self._state_dir, ignore_errors=True)

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
