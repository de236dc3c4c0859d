"""The Processor API: user processors with state stores, record context and punctuation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.processor.api import Processor, ProcessorContext, PunctuationType, Record


class CountingProcessor(Processor[str, Any]):
    """Counts per key in a store and forwards the running count."""

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store("counts")

    def process(self, record: Record[str, Any]) -> None:
        count = (self.store.get(record.key) or 0) + 1
        self.store.put(record.key, count)
        self.context.forward(record.with_value(count))


def _counting(builder: sk.StreamsBuilder, store: str = "rocksdb") -> sk.KStream:
    builder.add_state_store(
        sk.stores.key_value_store_builder(
            "counts", store=store, key_serde=serdes.STRING, value_serde=serdes.LONG
        )
    )
    return builder.stream("in").process(CountingProcessor, stores=["counts"])


@pytest.mark.parametrize("kind", ["rocksdb", "memory"])
def test_processor_with_state_store(
    builder: sk.StreamsBuilder, make_driver: Any, kind: str
) -> None:
    _counting(builder, kind).to("out", value_serde=serdes.LONG)
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", "x", timestamp_ms=5, headers=[("h", b"1")])
    inp.pipe_input("b", "y", timestamp_ms=6)
    inp.pipe_input("a", "z", timestamp_ms=7)
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    recs = out.read_records_to_list()
    assert [(r.key, r.value, r.timestamp_ms, r.headers) for r in recs] == [
        ("a", 1, 5, (("h", b"1"),)),
        ("b", 1, 6, ()),
        ("a", 2, 7, ()),
    ]
    store = driver.get_key_value_store("counts")
    assert dict(store.all()) == {"a": 2, "b": 1}
    assert list(store.range("a", "a")) == [("a", 2)]


def test_describe_shows_processor_store(builder: sk.StreamsBuilder) -> None:
    _counting(builder).to("out")
    text = builder.build().describe()
    assert "Processor: KSTREAM-PROCESSOR-0000000001 (stores: [counts])" in text


def test_context_exposes_record_coordinates(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    seen: list[tuple[Any, ...]] = []

    class Spy(Processor[Any, Any]):
        def process(self, record: Record[Any, Any]) -> None:
            c = self.context
            seen.append(
                (
                    c.topic,
                    c.partition,
                    c.offset,
                    c.timestamp,
                    c.headers,
                    c.task_id,
                    c.application_id,
                    c.stream_time,
                )
            )

    builder.stream("in").process(Spy)
    driver = make_driver(builder, config={"application_id": "spy-app"})
    inp = driver.create_input_topic("in")
    inp.pipe_input("k", 1, timestamp_ms=50, headers=[("a", b"b")])
    inp.pipe_input("k", 2, timestamp_ms=40)
    assert seen == [
        ("in", 0, 0, 50, (("a", b"b"),), "0_0", "spy-app", 50),
        ("in", 0, 1, 40, (), "0_0", "spy-app", 50),
    ]


def test_forward_to_named_child(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    class Router(Processor[Any, Any]):
        def process(self, record: Record[Any, Any]) -> None:
            target = "evens" if record.value % 2 == 0 else "odds"
            self.context.forward(record, child_name=target)

    routed = builder.stream("in").process(Router, name="router")
    routed.map_values(lambda v: v, name="evens").to("even-out")
    routed.map_values(lambda v: v, name="odds").to("odd-out")
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_value_list([1, 2, 3, 4])
    assert driver.create_output_topic("even-out").read_values_to_list() == [2, 4]
    assert driver.create_output_topic("odd-out").read_values_to_list() == [1, 3]


class Buffering(Processor[str, Any]):
    """Buffers values in a store and flushes them on a punctuation."""

    kind = PunctuationType.STREAM_TIME
    fired: list[int]

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store("buf")
        self.fired = []
        self.cancellable = context.schedule(timedelta(seconds=1), self.kind, self.flush)

    def process(self, record: Record[str, Any]) -> None:
        self.store.put(record.key, record.value)

    def flush(self, timestamp: int) -> None:
        self.fired.append(timestamp)
        for key, value in list(self.store.all()):
            self.context.forward(Record(key, value, timestamp))
            self.store.delete(key)


def _buffering(builder: sk.StreamsBuilder, cls: type[Buffering]) -> list[Buffering]:
    made: list[Buffering] = []

    def factory() -> Buffering:
        made.append(cls())
        return made[-1]

    builder.add_state_store(
        sk.stores.key_value_store_builder(
            "buf", store="memory", key_serde=serdes.STRING, value_serde=serdes.JSON
        )
    )
    builder.stream("in").process(factory, stores=["buf"]).to("out")
    return made


def test_stream_time_punctuation(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    made = _buffering(builder, Buffering)
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    # The first record starts stream time: the schedule (aligned to 0) fires right after it.
    inp.pipe_input("a", 1, timestamp_ms=500)
    assert [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [("a", 1, 500)]
    inp.pipe_input("b", 2, timestamp_ms=900)
    assert out.is_empty()
    inp.pipe_input("c", 3, timestamp_ms=200)  # late record: stream time does not go back
    assert out.is_empty()
    inp.pipe_input("d", 4, timestamp_ms=1000)  # reaches the next multiple of 1 s
    assert [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [
        ("b", 2, 1000),
        ("c", 3, 1000),
        ("d", 4, 1000),
    ]
    inp.pipe_input("e", 5, timestamp_ms=3500)  # skipped intervals fire once
    assert out.read_key_values_to_list() == [("e", 5)]
    inp.pipe_input("f", 6, timestamp_ms=3999)
    assert out.is_empty()
    assert made[0].fired == [500, 1000, 3500]
    driver.advance_wall_clock_time(10_000)  # wall clock does not drive stream-time schedules
    assert out.is_empty()


class WallClockBuffering(Buffering):
    kind = PunctuationType.WALL_CLOCK_TIME


def test_wall_clock_punctuation(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    made = _buffering(builder, WallClockBuffering)
    driver = make_driver(builder, initial_wall_clock_time_ms=10_000)
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("a", 1, timestamp_ms=99_999)  # stream time does not drive it
    assert out.is_empty()
    driver.advance_wall_clock_time(999)
    assert out.is_empty()
    driver.advance_wall_clock_time(1)
    assert [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()] == [
        ("a", 1, 11_000)
    ]
    inp.pipe_input("b", 2)
    driver.advance_wall_clock_time(timedelta(seconds=5))  # several intervals: fires once
    assert out.read_key_values_to_list() == [("b", 2)]
    made[0].cancellable.cancel()
    inp.pipe_input("c", 3)
    driver.advance_wall_clock_time(5_000)
    assert out.is_empty()
    assert made[0].fired == [11_000, 16_000]


def test_processor_close_is_called(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    closed: list[bool] = []

    class Closing(Processor[Any, Any]):
        def process(self, record: Record[Any, Any]) -> None:
            return None

        def close(self) -> None:
            closed.append(True)

    builder.stream("in").process(Closing)
    driver = make_driver(builder)
    driver.close()
    assert closed == [True]


def test_processor_asking_for_unconnected_store_fails(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.add_state_store(
        sk.stores.key_value_store_builder("s", key_serde=serdes.STRING, value_serde=serdes.LONG)
    )

    class Greedy(Processor[Any, Any]):
        def init(self, context: ProcessorContext) -> None:
            context.get_state_store("s")

        def process(self, record: Record[Any, Any]) -> None:
            return None

    class Noop(Processor[Any, Any]):
        def process(self, record: Record[Any, Any]) -> None:
            return None

    builder.stream("in").process(Greedy)
    builder.stream("other").process(Noop, stores=["s"])
    with pytest.raises(sk.TopologyError, match="stores=\\['s'\\]"):
        make_driver(builder)


def test_process_with_unregistered_store_fails(builder: sk.StreamsBuilder) -> None:
    with pytest.raises(sk.TopologyError, match="add_state_store"):
        builder.stream("in").process(CountingProcessor, stores=["nope"])


def test_unused_state_store_fails_build(builder: sk.StreamsBuilder) -> None:
    builder.stream("in").to("out")
    builder.add_state_store(
        sk.stores.key_value_store_builder(
            "lonely", key_serde=serdes.STRING, value_serde=serdes.LONG
        )
    )
    with pytest.raises(sk.TopologyError, match="lonely"):
        builder.build()


def test_process_with_an_instance_instead_of_factory_fails(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    class Plain:
        pass

    builder.stream("in").process(Plain)
    with pytest.raises(sk.TopologyError, match="factory returning a Processor"):
        make_driver(builder)
