"""Fused batch loops (runtime/fusion.py) against the nodes they inline.

`Task.process_batch` runs a source's stateless line (filter, map, map_values, select_key,
peek, merge, the fast sink) as one generated loop. Whatever the chain and whatever the batch
holds (bad JSON, tombstones, negative timestamps, failing callbacks, a map returning no pair,
an unserializable value), it must leave exactly what `Task.process` leaves one record at a
time through the real nodes: outputs in order, skips, dead letters, offsets, errors.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import StreamzError
from streamz_kit.handlers import CONTINUE, ErrorContext, ErrorHandlers, dead_letter
from streamz_kit.runtime.task import Task
from streamz_kit.transport.port import ConsumedRecord


def _n(value: Any) -> int:
    return value["n"] if isinstance(value, dict) and isinstance(value.get("n"), int) else 1


def _boom(n: int) -> None:
    if n == 3:
        raise ValueError("three is not allowed")


# Each op: (name, how it extends a KStream). Callbacks fail on n == 3, misbehave on others.
def _filter(s: Any) -> Any:
    return s.filter(lambda k, v: (_boom(_n(v)), _n(v) % 2 == 0 or _n(v) > 5)[1])


def _filter_not(s: Any) -> Any:
    return s.filter_not(lambda k, v: _n(v) == 8)


def _map_values(s: Any) -> Any:
    def fn(v: Any) -> Any:
        _boom(_n(v))
        return None if _n(v) == 6 else {"n": _n(v) + 1, "tag": "mv"}

    return s.map_values(fn)


def _map_values_with_key(s: Any) -> Any:
    return s.map_values(lambda k, v: {"n": _n(v), "k": k}, with_key=True)


def _map(s: Any) -> Any:
    def fn(k: Any, v: Any) -> Any:
        _boom(_n(v))
        if _n(v) == 4:
            return "not a pair"
        if _n(v) == 9:
            return [k, v]  # a list pair is accepted
        return (None if _n(v) == 2 else f"{k}!", v)

    return s.map(fn)


def _select_key(s: Any) -> Any:
    # an int key: the STRING key serde refuses it (a production error)
    return s.select_key(lambda k, v: 5 if _n(v) == 5 else f"sk{_n(v) % 3}")


def _peek(s: Any) -> Any:
    seen: list[Any] = []
    return s.peek(lambda k, v: (_boom(_n(v)), seen.append(k)))


def _unserializable(s: Any) -> Any:
    return s.map_values(lambda v: {1, 2} if _n(v) == 7 else v)


OPS = {
    "filter": _filter,
    "filter_not": _filter_not,
    "map_values": _map_values,
    "map_values_with_key": _map_values_with_key,
    "map": _map,
    "select_key": _select_key,
    "peek": _peek,
    "unserializable": _unserializable,
}
TAILS = ("to", "to_string_values", "fan_out", "merge", "foreach")


def topology(ops: list[str], tail: str) -> sk.Topology:
    builder = sk.StreamsBuilder()
    stream = builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
    for op in ops:
        stream = OPS[op](stream)
    if tail == "to":
        stream.to("out", value_serde=serdes.JSON)
    elif tail == "to_string_values":  # str.encode refuses dicts: the sink's general path
        stream.to("out", value_serde=serdes.STRING)
    elif tail == "fan_out":  # the line ends at a node with two children
        stream.to("out", value_serde=serdes.JSON)
        stream.map_values(lambda v: [v]).to("out2", value_serde=serdes.JSON)
    elif tail == "merge":  # a PassThroughNode with two parents (only one has input here)
        other = builder.stream("other", key_serde=serdes.STRING, value_serde=serdes.JSON)
        stream.merge(other).to("out", value_serde=serdes.JSON)
    else:  # a node that cannot be inlined ends the line
        stream.foreach(lambda k, v: _boom(_n(v)))
    return builder.build()


def make_task(ops: list[str], tail: str, handler: Any) -> Task:
    topo = topology(ops, tail)
    return Task(
        topology=topo,
        subtopology=topo.subtopologies[0],
        partition=2,
        application_id="app",
        stores={},
        partition_count=lambda topic: 4,
        handlers=ErrorHandlers.build(handler, handler, handler),
        max_record_bytes=120,
    ).start()


VALUES = st.one_of(
    st.builds(lambda n: b'{"n": %d}' % n, st.integers(0, 10)),
    st.just(b"{not json"),
    st.just(None),
    st.just(b'{"n": 1, "pad": "' + b"x" * 150 + b'"}'),  # too large for max_record_bytes
)
RECORDS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.sampled_from(["a", "b", "ccc"])),
        VALUES,
        st.sampled_from([5, 0, -1, 9]),
    ),
    max_size=20,
)


def as_records(raw: list[tuple[str | None, bytes | None, int]]) -> list[ConsumedRecord]:
    return [
        ConsumedRecord("in", 2, 100 + i, ts, None if k is None else k.encode(), v, (("h", b"1"),))
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


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(st.sampled_from(sorted(OPS)), max_size=5),
    tail=st.sampled_from(TAILS),
    handler=st.sampled_from(["log_and_continue", "dead_letter", "fail"]),
    raw=RECORDS,
)
def test_a_fused_batch_leaves_what_the_nodes_leave(
    ops: list[str], tail: str, handler: str, raw: Any
) -> None:
    how = dead_letter("dlq") if handler == "dead_letter" else handler
    records = as_records(raw)
    fused, one_by_one = make_task(ops, tail, how), make_task(ops, tail, how)

    def each() -> None:
        for record in records:
            one_by_one.process(record)

    assert outcome(fused, lambda: fused.process_batch(records)) == outcome(one_by_one, each)
    if records and (ops or tail != "fan_out"):  # else the source itself fans out
        assert any(fn is not None for fn in fused._fused.values())  # it did run fused


def test_w1_shape_is_fused_to_the_sink() -> None:
    """filter -> map_values -> to: every node inlined, nothing called per record."""
    from streamz_kit.runtime.fusion import plan

    task = make_task(["filter", "map_values"], "to", "fail")
    (source,) = set(task.sources.values())
    line = plan(source)
    assert line is not None
    assert [type(n).__name__ for n in line] == ["FilterNode", "MapValuesNode", "SinkNode"]


def test_bad_bytes_reach_the_handler_with_their_coordinates() -> None:
    """A record that fails deserialization goes to the configured handler, named by
    topic, partition and offset, and the fused batch carries on after it."""
    seen: list[ErrorContext] = []

    def handler(ctx: ErrorContext, exc: BaseException) -> Any:
        seen.append(ctx)
        return CONTINUE

    task = make_task(["filter", "map_values"], "to", handler)
    records = as_records([("a", b'{"n": 2}', 5), ("b", b"{bad", 5), ("c", b'{"n": 4}', 6)])
    task.process_batch(records)
    assert any(fn is not None for fn in task._fused.values())
    assert [(c.kind, c.topic, c.partition, c.offset, c.value) for c in seen] == [
        ("deserialization", "in", 2, 101, b"{bad")
    ]
    assert [r.key for r in task.collector] == [b"a", b"c"]
    assert task.consumed_offsets == {("in", 2): 103}


def test_a_failing_callback_is_named_by_its_operator_and_record() -> None:
    task = make_task(["map_values"], "to", "fail")
    with pytest.raises(StreamzError, match=r"KSTREAM-MAPVALUES-\d+ raised ValueError.*in-2@101"):
        task.process_batch(as_records([("a", b'{"n": 1}', 5), ("b", b'{"n": 3}', 5)]))
    assert [r.key for r in task.collector] == [b"a"]
