"""Async operators (processor/async_ops.py): per-key order, bounded concurrency, timeouts,
retries, error handlers, cancellation on close — on a bare Task driven the way the worker
loop drives it (runtime/async_drive.py) and through the TopologyTestDriver."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import StreamsProcessingError, TopologyError
from streamz_kit.handlers import ErrorContext, ErrorHandlers, dead_letter
from streamz_kit.runtime.async_drive import drive, poll_room
from streamz_kit.runtime.task import Task
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.transport.port import ConsumedRecord


class Probe:
    """Counts concurrent calls overall and per key."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.per_key: dict[str, int] = defaultdict(int)
        self.per_key_peak = 0
        self.started: list[int] = []

    async def enter(self, key: str, seq: int, delay: float) -> None:
        self.started.append(seq)
        self.running += 1
        self.per_key[key] += 1
        self.peak = max(self.peak, self.running)
        self.per_key_peak = max(self.per_key_peak, self.per_key[key])
        try:
            await asyncio.sleep(delay)
        finally:
            self.running -= 1
            self.per_key[key] -= 1


def make_task(build: Any, handler: Any = "fail") -> Task:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
    build(stream).to("out", value_serde=serdes.JSON)
    topo = builder.build()
    return Task(
        topology=topo,
        subtopology=topo.subtopologies[0],
        partition=0,
        application_id="app",
        stores={},
        partition_count=lambda topic: 1,
        handlers=ErrorHandlers.build(None, handler, None),
    ).start()


def record(offset: int, key: str, value: Any) -> ConsumedRecord:
    return ConsumedRecord(
        "in", 0, offset, 1000 + offset, key.encode(), serdes.JSON.serialize("in", value), ()
    )


def outputs(task: Task) -> list[tuple[str, Any]]:
    return [(r.key.decode(), serdes.JSON.deserialize("out", r.value)) for r in task.drain_output()]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 6)), min_size=1, max_size=40),
    max_in_flight=st.integers(1, 6),
    batch=st.integers(1, 12),
)
def test_per_key_order_and_bounded_concurrency_under_random_latencies(
    data: list[tuple[str, int]], max_in_flight: int, batch: int
) -> None:
    probe = Probe()

    async def call(key: str, value: dict[str, int]) -> dict[str, int]:
        await probe.enter(key, value["seq"], value["ms"] / 1000)
        return {"seq": value["seq"], "key": key}

    task = make_task(lambda s: s.map_values_async(call, with_key=True, max_in_flight=max_in_flight))
    records = [record(i, k, {"seq": i, "ms": ms}) for i, (k, ms) in enumerate(data)]

    async def worker_loop() -> None:
        # As the worker: process a batch, drive (waits while at the limit), repeat; commit.
        for start in range(0, len(records), batch):
            task.process_batch(records[start : start + batch])
            await drive([task])
        await task.settle_async()

    asyncio.run(worker_loop())
    got = outputs(task)
    assert sorted(v["seq"] for _, v in got) == list(range(len(data)))  # nothing lost
    for key in set(k for k, _ in data):
        seqs = [v["seq"] for k, v in got if k == key]
        assert seqs == sorted(seqs), f"key {key} out of order: {seqs}"
    assert probe.peak <= max_in_flight
    assert probe.per_key_peak == 1  # one call per key at a time: calls are in input order too
    assert task.consumed_offsets[("in", 0)] == len(data)


def test_different_keys_overlap_up_to_the_limit_and_fetching_pauses() -> None:
    probe = Probe()

    async def call(key: str, value: Any) -> Any:
        await probe.enter(key, value, 0.01)
        return value

    task = make_task(lambda s: s.map_values_async(call, with_key=True, max_in_flight=8))
    node = task.async_nodes[0]

    async def scenario() -> None:
        task.process_batch([record(i, f"k{i}", i) for i in range(50)])
        in_flight = await drive([task])
        # drive returns only once the node has room again (fewer than max_queued records
        # accepted and not forwarded: the running calls and those waiting); the loop then
        # fetches no more than that room
        assert in_flight and node.max_queued == 24
        assert 0 < node.queued <= node.max_queued - node.refill  # room for a real poll
        assert poll_room([task], 5000) == node.max_queued - node.queued
        await task.settle_async()

    asyncio.run(scenario())
    assert probe.peak == 8  # different keys overlap, but never more than max_in_flight
    assert sorted(v for _, v in outputs(task)) == list(range(50))
    assert node.metrics()["calls"] == 50 and node.metrics()["in_flight"] == 0


def test_timeouts_and_retries_with_backoff() -> None:
    attempts: dict[int, int] = defaultdict(int)

    async def flaky(value: int) -> int:
        attempts[value] += 1
        if attempts[value] <= 2:
            await asyncio.sleep(10)  # times out
        return value * 10

    task = make_task(lambda s: s.map_values_async(flaky, timeout=0.02, retries=2, backoff=0.001))
    task.process(record(0, "a", 1))
    asyncio.run(task.settle_async())
    assert outputs(task) == [("a", 10)]
    m = task.async_nodes[0].metrics()
    assert (m["timeouts"], m["retries"], m["failures"], m["calls"]) == (2, 2, 0, 3)
    assert m["latency_seconds"]["count"] == 1


def test_exhausted_retries_fail_with_the_records_coordinates() -> None:
    async def broken(value: int) -> int:
        raise ConnectionError("service down")

    task = make_task(lambda s: s.map_values_async(broken, retries=1, backoff=0.001))
    task.process(record(7, "a", 1))
    with pytest.raises(
        StreamsProcessingError, match=r"in-0@7.*ConnectionError|ConnectionError.*in-0@7"
    ):
        asyncio.run(task.settle_async())
    assert task.async_nodes[0].metrics()["retries"] == 1


def test_timeout_without_retries_goes_to_log_and_continue() -> None:
    async def slow_on_two(value: int) -> int:
        if value == 2:
            await asyncio.sleep(10)
        return value

    task = make_task(lambda s: s.map_values_async(slow_on_two, timeout=0.02), "log_and_continue")
    for i in range(4):
        task.process(record(i, "a", i))
    asyncio.run(task.settle_async())
    assert outputs(task) == [("a", 0), ("a", 1), ("a", 3)]  # the key's order kept past the gap
    assert task.skipped["processing error"] == 1


def test_dead_letter_and_handler_function_get_the_record() -> None:
    async def odd_fails(value: int) -> int:
        if value % 2:
            raise ValueError(f"odd {value}")
        return value

    task = make_task(lambda s: s.map_values_async(odd_fails), dead_letter("dlq"))
    for i in range(4):
        task.process(record(10 + i, "k", i))
    asyncio.run(task.settle_async())
    out = task.drain_output()
    dlq = [r for r in out if r.topic == "dlq"]
    assert [r.topic for r in out].count("out") == 2
    assert [dict(r.headers)["streamz.error.offset"] for r in dlq] == [b"11", b"13"]
    assert all(b"ValueError" in dict(r.headers)["streamz.error.exception"] for r in dlq)

    seen: list[ErrorContext] = []

    def handler(context: ErrorContext, exc: BaseException) -> str:
        seen.append(context)
        return "continue"

    task = make_task(lambda s: s.map_values_async(odd_fails), handler)
    task.process(record(5, "k", 3))
    asyncio.run(task.settle_async())
    assert [(c.topic, c.partition, c.offset, c.kind) for c in seen] == [("in", 0, 5, "processing")]


def test_close_cancels_in_flight_calls_and_forwards_nothing() -> None:
    finished: list[int] = []

    async def slow(value: int) -> int:
        await asyncio.sleep(0.5)
        finished.append(value)
        return value

    task = make_task(lambda s: s.map_values_async(slow))
    node = task.async_nodes[0]

    async def scenario() -> None:
        task.process_batch([record(i, f"k{i}", i) for i in range(5)])
        await drive([task])
        assert len(node.in_flight) == 5
        running = list(node.in_flight)
        task.close()  # revoked/migrated without commit
        await asyncio.sleep(0.01)
        assert all(t.cancelled() for t in running)
        task.step_async()  # a late loop turn forwards nothing

    asyncio.run(scenario())
    assert finished == [] and task.drain_output() == []


def test_driver_pipe_input_waits_for_the_calls() -> None:
    async def upper(value: str) -> str:
        await asyncio.sleep(0.001)
        return value.upper()

    async def split(key: str, value: str) -> list[str]:
        return [f"{key}:{c}" for c in value]

    effects: list[str] = []

    async def record_effect(value: str) -> None:
        effects.append(value)

    builder = sk.StreamsBuilder()
    mapped = builder.stream("in").map_values_async(upper)
    mapped.to("upper")
    mapped.flat_map_values_async(split, with_key=True).to("chars")
    mapped.foreach_async(record_effect)
    with TopologyTestDriver(builder.build()) as driver:
        source = driver.create_input_topic("in")
        source.pipe_input("k", "ab")
        assert driver.create_output_topic("upper").read_key_values_to_list() == [("k", "AB")]
        assert effects == ["AB"]
        source.pipe_input("j", "c")
        assert driver.create_output_topic("chars").read_values_to_list() == ["k:A", "k:B", "j:C"]


def test_plain_functions_and_bad_limits_are_refused_at_build_time() -> None:
    stream = sk.StreamsBuilder().stream("in")
    with pytest.raises(TopologyError, match="async def"):
        stream.map_values_async(lambda v: v)

    async def fn(value: Any) -> Any:
        return value

    with pytest.raises(TopologyError, match="max_in_flight"):
        stream.map_values_async(fn, max_in_flight=0)
    with pytest.raises(TopologyError, match="retries"):
        stream.foreach_async(fn, retries=-1)


def test_metrics_reach_the_snapshot_and_prometheus() -> None:
    from prometheus_client.core import Metric

    from streamz_kit.observability.prometheus import _async_families
    from streamz_kit.observability.snapshot import RateMeter, _task_facts

    async def fn(value: int) -> int:
        if value == 1:
            raise ValueError("no")
        return value

    task = make_task(
        lambda s: s.map_values_async(fn, retries=1, backoff=0.001, name="score"), "log_and_continue"
    )
    for i in range(3):
        task.process(record(i, f"k{i}", i))
    asyncio.run(task.settle_async())
    facts = _task_facts(task, set(), RateMeter())
    m = facts["async_calls"]["score"]
    assert (m["calls"], m["retries"], m["failures"], m["in_flight"]) == (4, 1, 1, 0)
    families: dict[str, Metric] = {f.name: f for f in _async_families("app", [facts])}
    samples = {(s.name, s.labels.get("le")): s.value for f in families.values() for s in f.samples}
    assert samples[("streamz_async_calls_total", None)] == 4
    assert samples[("streamz_async_retries_total", None)] == 1
    assert samples[("streamz_async_in_flight", None)] == 0
    assert samples[("streamz_async_call_seconds_count", None)] == 2


def test_driver_works_inside_a_running_event_loop() -> None:
    async def double(value: int) -> int:
        await asyncio.sleep(0.001)
        return value * 2

    builder = sk.StreamsBuilder()
    builder.stream("in", value_serde=serdes.JSON).map_values_async(double).to(
        "out", value_serde=serdes.JSON
    )

    async def async_test() -> list[Any]:
        with TopologyTestDriver(builder.build()) as driver:
            driver.create_input_topic("in", value_serde=serdes.JSON).pipe_input("k", 21)
            return driver.create_output_topic("out", value_serde=serdes.JSON).read_values_to_list()

    assert asyncio.run(async_test()) == [42]
