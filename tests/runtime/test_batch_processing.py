"""`Task.process_batch` (the worker's hot loop) against `Task.process` (one record at a time).

The batch loop hoists lookups out of the per-record path, calls the built-in serdes' C
functions directly and, in the sink, takes a shortcut for one fixed topic. Whatever a batch
holds (bad JSON, a failing operator, an unserializable value, tombstones, negative
timestamps), it must leave exactly what the record-at-a-time path leaves: the same outputs
in the same order, the same skips, the same consumed offset, the same errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import StreamzError
from streamz_kit.handlers import ErrorHandlers, dead_letter
from streamz_kit.runtime.task import Task
from streamz_kit.transport.port import ConsumedRecord


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()

    def mapper(v: Any) -> Any:
        if v is None:
            return None
        if v["n"] == 7:
            return {1, 2}  # not JSON: a production error in the sink
        return {"q": 100 // v["n"]}  # n == 0: a processing error

    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .filter(lambda k, v: v is None or v.get("keep", True))
        .map_values(mapper)
        .to("out", value_serde=serdes.JSON)
    )
    return builder.build()


def make_task(handler: Any) -> Task:
    topo = topology()
    return Task(
        topology=topo,
        subtopology=topo.subtopologies[0],
        partition=2,
        application_id="app",
        stores={},
        partition_count=lambda topic: 4,
        handlers=ErrorHandlers.build(handler, handler, handler),
        max_record_bytes=200,
    ).start()


VALUES = st.one_of(
    st.builds(
        lambda n, keep: b'{"n": %d, "keep": %s}' % (n, b"true" if keep else b"false"),
        st.integers(-3, 9),
        st.booleans(),
    ),
    st.just(b"{not json"),
    st.just(None),
    st.just(b'{"n": 1, "pad": "' + b"x" * 300 + b'"}'),  # too large for max_record_bytes
)
RECORDS = st.lists(
    st.tuples(st.one_of(st.none(), st.text(max_size=4)), VALUES, st.sampled_from([5, 0, -1, 9])),
    max_size=25,
)


def as_records(raw: list[tuple[str | None, bytes | None, int]]) -> list[ConsumedRecord]:
    return [
        ConsumedRecord("in", 2, 100 + i, ts, None if k is None else k.encode(), v, ())
        for i, (k, v, ts) in enumerate(raw)
    ]


def outcome(task: Task, run: Any) -> tuple[Any, ...]:
    error = None
    try:
        run()
    except StreamzError as exc:
        error = (type(exc), str(exc))
    return (
        error,
        # keyless records go round-robin from one process-wide counter: compare the rest
        [tuple(r) if r.key is not None else (r.topic, r.key, r.value) for r in task.collector],
        dict(task.skipped),
        dict(task.consumed_offsets),
        task.processed,
        task.stream_time,
        task.dead_lettered,
    )


@pytest.mark.parametrize("handler", ["log_and_continue", dead_letter("dlq"), "fail"])
@settings(max_examples=60, deadline=None)
@given(raw=RECORDS)
def test_a_batch_leaves_what_one_record_at_a_time_leaves(handler: Any, raw: Any) -> None:
    records = as_records(raw)
    one_by_one, batched = make_task(handler), make_task(handler)

    def each() -> None:
        for record in records:
            one_by_one.process(record)

    assert outcome(batched, lambda: batched.process_batch(records)) == outcome(one_by_one, each)


def test_a_skipped_record_does_not_stop_the_batch() -> None:
    task = make_task("log_and_continue")
    records = as_records(
        [
            ("a", b'{"n": 5}', 1),
            ("b", b"{bad", 2),
            ("c", b'{"n": 0}', 3),
            ("d", b'{"n": 7}', 4),
            ("e", b'{"n": 50}', 5),
        ]
    )
    task.process_batch(records)
    assert [(r.key, r.value) for r in task.collector] == [(b"a", b'{"q":20}'), (b"e", b'{"q":2}')]
    assert task.skipped == {
        "deserialization error": 1,
        "processing error": 1,
        "production error": 1,
    }
    assert task.consumed_offsets == {("in", 2): 105}
    assert task.processed == 2


def test_fail_stops_at_the_bad_record_and_names_it() -> None:
    task = make_task("fail")
    records = as_records([("a", b'{"n": 5}', 1), ("b", b'{"n": 0}', 2), ("c", b'{"n": 5}', 3)])
    with pytest.raises(StreamzError, match="in-2@101"):
        task.process_batch(records)
    assert [r.key for r in task.collector] == [b"a"]


def test_the_sink_shortcut_partitions_as_kafka_does() -> None:
    task = make_task("fail")
    task.process_batch(as_records([(f"k{i}", b'{"n": 1}', 1) for i in range(50)]))
    from streamz_kit.transport.partitioner import murmur2

    for record in task.collector:
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % 4
