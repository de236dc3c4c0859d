"""OpenTelemetry tracing (`pip install streamz_kit[otel]`, `App(..., tracing=True)`).

What is traced, and why this shape:
- one CONSUMER span per processed batch (`streamz.process`), linked to the span context each
  input record carries in its W3C `traceparent` header, so a trace started by a producer
  leads to the batch that consumed it;
- every record produced while that batch ran gets the batch span's `traceparent` (replacing
  a propagated one), so consumers downstream link back to it: output -> batch -> inputs;
- one span per commit (`streamz.commit`), linked to the batch spans it makes durable.
Spans per batch, not per record: a record-level span would cost more than the record. When
tracing is off the worker makes one `is None` check per batch and per commit; nothing here
is imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
MAX_LINKS = 128  # per span: a 5,000-record batch must not carry 5,000 links

_propagator = TraceContextTextMapPropagator()


def context_of(headers: Any) -> trace.SpanContext | None:
    """The remote span context in a record's headers, or None."""
    carrier: dict[str, str] = {}
    for key, value in headers:
        if key in (TRACEPARENT, TRACESTATE):
            carrier[key] = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    if TRACEPARENT not in carrier:
        return None
    ctx = trace.get_current_span(_propagator.extract(carrier)).get_span_context()
    return ctx if ctx.is_valid else None


def headers_for(span: trace.Span) -> tuple[tuple[str, bytes], ...]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return tuple((k, v.encode("latin-1")) for k, v in carrier.items())


def _replace_trace_headers(headers: Any, ours: tuple[tuple[str, bytes], ...]) -> Any:
    if not headers:
        return ours
    kept = tuple(h for h in headers if h[0] != TRACEPARENT and h[0] != TRACESTATE)
    return kept + ours


class Tracing:
    """The worker's tracing hooks; built by the App when `tracing` is set."""

    def __init__(self, tracer_provider: Any = None, *, application_id: str = "") -> None:
        self.tracer = trace.get_tracer("streamz_kit", tracer_provider=tracer_provider)
        self.application_id = application_id
        self._uncommitted: list[trace.SpanContext] = []

    @classmethod
    def build(cls, setting: Any, application_id: str) -> Tracing:
        """`tracing=True` uses the global tracer provider; a TracerProvider is used as is."""
        return cls(None if setting is True else setting, application_id=application_id)

    def process(
        self,
        batch: dict[Any, list[Any]],
        tasks: Any,
        run: Callable[[dict[Any, list[Any]], Any], None],
    ) -> None:
        links: list[Link] = []
        seen: set[int] = set()
        count = 0
        for records in batch.values():
            count += len(records)
            if len(links) >= MAX_LINKS:
                continue
            for record in records:
                if record.headers:
                    ctx = context_of(record.headers)
                    if ctx is not None and ctx.span_id not in seen:
                        seen.add(ctx.span_id)
                        links.append(Link(ctx))
                        if len(links) >= MAX_LINKS:
                            break
        topics = sorted({tp.topic for tp in batch})
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.batch.message_count": count,
            "messaging.destination.name": topics[0] if len(topics) == 1 else ",".join(topics),
            "messaging.consumer.group.name": self.application_id,
            "streamz.partitions": sorted(f"{tp.topic}-{tp.partition}" for tp in batch),
        }
        all_tasks = list(tasks.tasks.values())
        marks = [len(task.collector) for task in all_tasks]
        with self.tracer.start_as_current_span(
            "streamz.process", kind=SpanKind.CONSUMER, links=links, attributes=attributes
        ) as span:
            run(batch, tasks)
            ours = headers_for(span)
            produced = 0
            for task, mark in zip(all_tasks, marks):
                out = task.collector
                for i in range(mark, len(out)):
                    record = out[i]
                    out[i] = record._replace(headers=_replace_trace_headers(record.headers, ours))
                produced += len(out) - mark
            span.set_attribute("streamz.records_produced", produced)
            if len(self._uncommitted) < MAX_LINKS:
                self._uncommitted.append(span.get_span_context())

    async def commit(self, commit: Callable[[], Awaitable[Any]]) -> Any:
        links = [Link(ctx) for ctx in self._uncommitted]
        self._uncommitted = []
        with self.tracer.start_as_current_span(
            "streamz.commit",
            kind=SpanKind.INTERNAL,
            links=links,
            attributes={
                "streamz.application_id": self.application_id,
                "streamz.batches": len(links),
            },
        ):
            return await commit()
