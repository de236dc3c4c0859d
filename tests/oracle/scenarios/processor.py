"""The Processor API: a summing processor with a store and a punctuation
(ProcessorScenarios.java)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit.processor.api import Processor, ProcessorContext, PunctuationType, Record
from tests.oracle.scenarios import scenario
from tests.oracle.scenarios.common import L, S, longs

INTERVAL = {"interval": st.sampled_from([1, 7, 10, 50])}


class SumPunctuator(Processor[str, int]):
    """Keeps a sum per key in "pstore" and forwards it; every interval forwards "@tick" with
    the punctuation time, then every key's sum."""

    def __init__(self, kind: PunctuationType, interval: int) -> None:
        self.kind = kind
        self.interval = interval

    def init(self, context: ProcessorContext) -> None:
        super().init(context)
        self.store = context.get_state_store("pstore")
        context.schedule(self.interval, self.kind, self.punctuate)

    def punctuate(self, ts: int) -> None:
        self.context.forward(Record("@tick", ts, ts))
        for key, value in list(self.store.all()):
            self.context.forward(Record(key, value, ts))

    def process(self, record: Record[str, int]) -> None:
        if record.key is None or record.value is None:
            return
        total = (self.store.get(record.key) or 0) + record.value
        self.store.put(record.key, total)
        self.context.forward(record.with_value(total))


def _punctuating(kind: PunctuationType) -> Any:
    def build(b: sk.StreamsBuilder, p: dict[str, Any]) -> None:
        b.add_state_store(
            sk.stores.key_value_store_builder("pstore", store="memory", key_serde=S, value_serde=L)
        )
        interval = p.get("interval", 10)
        longs(b, "in").process(lambda: SumPunctuator(kind, interval), stores=["pstore"]).to(
            "out", value_serde=L
        )

    return build


scenario("punctuate_stream_time", stores={"pstore": "kv"}, params=INTERVAL)(
    _punctuating(PunctuationType.STREAM_TIME)
)
scenario("punctuate_wall_clock", stores={"pstore": "kv"}, params=INTERVAL, wall_clock=True)(
    _punctuating(PunctuationType.WALL_CLOCK_TIME)
)
