"""OpenTelemetry tracing: spans per batch and per commit, W3C traceparent in and out,
checked with the SDK's in-memory exporter on an App over the embedded broker."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.observability.tracing import context_of
from streamz_kit.transport import connect
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec

N = 20


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    builder.stream("in", value_serde=serdes.JSON).map_values(lambda v: v * 2).to(
        "out", value_serde=serdes.JSON
    )
    return builder.build()


async def run_app(tmp: Path, tracing: Any, headers: list[Any]) -> list[Any]:
    broker = f"embedded://{tmp}"
    transport = connect(broker)
    await transport.start()
    await transport.admin().create_topics([TopicSpec("in", 1), TopicSpec("out", 1)])
    producer = transport.producer()
    for i in range(N):
        producer.send(
            ProducerRecord("in", 0, f"k{i}".encode(), str(i).encode(), 1000 + i, headers[i])
        )
    await producer.flush()
    app = sk.App(
        topology(), application_id="traced", broker=broker, commit_interval_ms=20, tracing=tracing
    )
    await app.start()
    consumer = transport.consumer(group_id=None)
    consumer.assign([TopicPartition("out", 0)])
    got: list[Any] = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < N and time.monotonic() < deadline:
            for records in (await consumer.poll(timeout_ms=100, max_records=100)).values():
                got.extend(records)
        await asyncio.sleep(0.1)  # let a commit run after the last batch
    finally:
        await app.stop()
        await consumer.close()
        await transport.close()
    assert [int(r.value) for r in got] == [2 * i for i in range(N)]
    return got


def test_batches_and_commits_are_spans_linked_to_inputs_and_outputs(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    producer_tracer = provider.get_tracer("test-producer")
    from streamz_kit.observability.tracing import headers_for

    headers, produced = [], []
    for i in range(N):
        if i % 2:  # half the inputs carry no trace context
            headers.append((("other", b"x"),))
            continue
        with producer_tracer.start_as_current_span(f"produce-{i}") as span:
            headers.append(headers_for(span) + (("other", b"x"),))
            produced.append(span.get_span_context())
    outputs = asyncio.run(run_app(tmp_path, provider, headers))

    spans = exporter.get_finished_spans()
    batches = [s for s in spans if s.name == "streamz.process"]
    commits = [s for s in spans if s.name == "streamz.commit"]
    assert batches and commits
    linked = {link.context.span_id for s in batches for link in s.links}
    assert linked == {ctx.span_id for ctx in produced}  # every traced input, nothing else
    assert sum(s.attributes["messaging.batch.message_count"] for s in batches) == N
    assert sum(s.attributes["streamz.records_produced"] for s in batches) == N
    by_id = {s.context.span_id: s for s in batches}
    for record in outputs:
        ctx = context_of(record.headers)
        assert ctx is not None and ctx.span_id in by_id  # output -> its batch span
        assert dict(record.headers)["other"] == b"x"  # other headers still propagate
        assert [k for k, _ in record.headers].count("traceparent") == 1
    committed = {link.context.span_id for s in commits for link in s.links}
    assert set(by_id) <= committed


def test_tracing_off_creates_no_spans_and_leaves_headers_alone(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("p").start_as_current_span("produce") as span:
        from streamz_kit.observability.tracing import headers_for

        upstream = headers_for(span)
    outputs = asyncio.run(run_app(tmp_path, None, [upstream] * N))
    assert [s.name for s in exporter.get_finished_spans()] == ["produce"]
    assert all(tuple(r.headers) == upstream for r in outputs)  # propagated untouched
