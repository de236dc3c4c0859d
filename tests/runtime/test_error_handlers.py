"""Error handlers: fail, log_and_continue and dead-letter, for the three kinds of error."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import ConfigError, StreamsProcessingError
from streamz_kit.handlers import dead_letter
from streamz_kit.testing import TopologyTestDriver
from streamz_kit.transport import connect
from streamz_kit.transport.port import ProducerRecord, TopicPartition, TopicSpec


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values(lambda v: 100 // v["n"])  # n == 0 raises ZeroDivisionError
        .to("out", value_serde=serdes.LONG)
    )
    return builder.build()


def pipe_raw(driver: TopologyTestDriver, values: list[bytes]) -> None:
    inp = driver.create_input_topic("in", value_serde=serdes.BYTES)
    for i, raw in enumerate(values):
        inp.pipe_input(f"k{i}", raw, timestamp_ms=i)


def test_fail_is_the_default_and_names_the_record() -> None:
    with TopologyTestDriver(topology()) as driver:
        with pytest.raises(StreamsProcessingError) as info:
            pipe_raw(driver, [b'{"n": 5}', b"{not json"])
        assert "in-0@1" in str(info.value)


@pytest.mark.parametrize("kind", ["deserialization", "processing"])
def test_log_and_continue_skips_and_counts(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    bad = b"{not json" if kind == "deserialization" else b'{"n": 0}'
    config = {f"{kind}_error_handler": "log_and_continue"}
    with TopologyTestDriver(topology(), config=config) as driver:
        pipe_raw(driver, [b'{"n": 5}', bad, b'{"n": 50}'])
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("k0", 20), ("k2", 2)]
        assert driver.tasks[0].skipped[f"{kind} error"] == 1
    assert any("in-0@1" in r.getMessage() for r in caplog.records)


def test_dead_letter_keeps_original_bytes_and_says_why() -> None:
    config = {
        "deserialization_error_handler": dead_letter("dlq"),
        "processing_error_handler": dead_letter("dlq"),
    }
    with TopologyTestDriver(topology(), config=config) as driver:
        pipe_raw(driver, [b"{not json", b'{"n": 0}', b'{"n": 4}'])
        dlq = driver.create_output_topic("dlq", value_serde=serdes.BYTES).read_records_to_list()
        assert [r.value for r in dlq] == [b"{not json", b'{"n": 0}']
        headers = [dict(r.headers) for r in dlq]
        assert headers[0]["streamz.error.handler"] == b"deserialization"
        assert headers[1]["streamz.error.handler"] == b"processing"
        assert headers[1]["streamz.error.offset"] == b"1"
        assert headers[1]["streamz.error.topic"] == b"in"
        assert b"ZeroDivisionError" in headers[1]["streamz.error.exception"]
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("k2", 25)]


def test_production_error_for_a_value_the_sink_cannot_serialize() -> None:
    builder = sk.StreamsBuilder()
    builder.stream("in").map_values(lambda v: v["x"]).to("out", value_serde=serdes.LONG)
    config = {"production_error_handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config=config) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", {"x": "not a number"})
        inp.pipe_input("b", {"x": 7})
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        assert out.read_key_values_to_list() == [("b", 7)]
        assert driver.tasks[0].skipped["production error"] == 1


def test_unknown_handler_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="log_and_continue"):
        sk.App(topology(), application_id="x", processing_error_handler="ignore")


def test_dead_letter_topic_on_the_embedded_broker(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"

    async def go() -> list[tuple[bytes | None, dict[str, bytes]]]:
        transport = connect(broker)
        await transport.start()
        await transport.admin().create_topics([TopicSpec("in", 1)])
        producer = transport.producer()
        for i, raw in enumerate([b'{"n": 1}', b"\xff\xfe", b'{"n": 0}', b'{"n": 2}']):
            producer.send(ProducerRecord("in", 0, f"k{i}".encode(), raw, i))
        await producer.flush()
        app = sk.App(
            topology(),
            application_id="dlq-app",
            broker=broker,
            state_dir=tmp_path / "s",
            deserialization_error_handler=dead_letter("in-dlq"),
            processing_error_handler=dead_letter("in-dlq"),
            commit_interval_ms=10,
        )
        await app.start()
        deadline = time.monotonic() + 20
        consumer = transport.consumer(group_id=None)
        consumer.assign([TopicPartition("in-dlq", 0)]) if False else None
        while time.monotonic() < deadline:
            counts = await transport.admin().partition_counts(["in-dlq"])
            if counts:
                ends = await transport.admin().list_offsets([TopicPartition("in-dlq", 0)], "latest")
                if ends[TopicPartition("in-dlq", 0)] >= 2:
                    break
            await asyncio.sleep(0.05)
        await app.stop()
        consumer.assign([TopicPartition("in-dlq", 0)])
        got = await consumer.poll(timeout_ms=500, max_records=10)
        await consumer.close()
        await transport.close()
        return [(r.value, dict(r.headers)) for recs in got.values() for r in recs]

    records = asyncio.run(go())
    assert [v for v, _ in records] == [b"\xff\xfe", b'{"n": 0}']
    assert [h["streamz.error.offset"] for _, h in records] == [b"1", b"2"]
