"""Records the registry serdes cannot read go to the deserialization handler with the
record's coordinates and the cause; an incompatible schema fails before anything is
produced."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import SchemaRegistry, serdes
from streamz_kit.errors import StreamsProcessingError
from streamz_kit.handlers import dead_letter
from streamz_kit.schemas import IncompatibleSchemaError
from streamz_kit.testing import TopologyTestDriver

V1 = {"type": "record", "name": "Click", "fields": [{"name": "n", "type": "long"}]}


def topology(registry: SchemaRegistry, out_schema: dict = V1) -> sk.Topology:  # type: ignore[type-arg]
    builder = sk.StreamsBuilder()
    (
        builder.stream(
            "in", key_serde=serdes.STRING, value_serde=serdes.avro(V1, registry=registry)
        )
        .map_values(lambda v: {"n": v["n"] * 2})
        .to("out", value_serde=serdes.avro(out_schema, registry=registry))
    )
    return builder.build()


def test_each_kind_of_bad_record_reaches_the_handler(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    good = serdes.avro(V1, registry=reg).serialize("in", {"n": 21})
    assert good is not None
    bad = [
        (b"plain text", "magic byte 0"),
        (b"\x00\x00\x00\x03\xe7" + good[5:], "schema id 999"),
        (good[:5] + b"\x81", "does not match its writer schema"),
    ]
    config = {"deserialization_error_handler": dead_letter("dlq")}
    with TopologyTestDriver(topology(reg), config=config) as driver:
        inp = driver.create_input_topic("in", value_serde=serdes.BYTES)
        for raw, _ in bad:
            inp.pipe_input("k", raw)
        inp.pipe_input("k", good)
        dlq = driver.create_output_topic("dlq", value_serde=serdes.BYTES).read_records_to_list()
        assert [r.value for r in dlq] == [raw for raw, _ in bad]
        for offset, (record, (_, cause)) in enumerate(zip(dlq, bad, strict=True)):
            headers = dict(record.headers)
            assert headers["streamz.error.topic"] == b"in"
            assert headers["streamz.error.offset"] == str(offset).encode()
            assert cause.encode() in headers["streamz.error.exception"]
        out = driver.create_output_topic("out", value_serde=serdes.avro(V1, registry=reg))
        assert out.read_key_values_to_list() == [("k", {"n": 42})]


def test_fail_names_topic_partition_offset_and_cause(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    with TopologyTestDriver(topology(reg)) as driver:
        inp = driver.create_input_topic("in", value_serde=serdes.BYTES)
        with pytest.raises(StreamsProcessingError) as info:
            inp.pipe_input("k", b"no frame")
    text = str(info.value)
    assert "in-0@0" in text and "magic byte 0" in text


def test_a_registry_that_is_down_is_a_deserialization_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = SchemaRegistry(f"http://127.0.0.1:{port}", max_retries=1, retry_backoff_ms=1)
    up = SchemaRegistry(f"embedded://{tmp_path}")
    framed = serdes.avro(V1, registry=up).serialize("in", {"n": 1})
    builder = sk.StreamsBuilder()
    builder.stream("in", value_serde=serdes.avro(V1, registry=down)).to(
        "out", value_serde=serdes.JSON
    )
    config = {"deserialization_error_handler": "log_and_continue"}
    with TopologyTestDriver(builder.build(), config=config) as driver:
        driver.create_input_topic("in", value_serde=serdes.BYTES).pipe_input("k", framed)
        assert driver.create_output_topic("out").is_empty()
        assert driver.tasks[0].skipped["deserialization error"] == 1
    with (
        TopologyTestDriver(builder.build()) as driver,
        pytest.raises(StreamsProcessingError) as info,
    ):
        driver.create_input_topic("in", value_serde=serdes.BYTES).pipe_input("k", framed)
    assert "in-0@0" in str(info.value) and "did not answer" in str(info.value)


def test_incompatible_output_schema_fails_before_anything_is_produced(tmp_path: Path) -> None:
    reg = SchemaRegistry(f"embedded://{tmp_path}")
    reg.register("out-value", V1)
    breaking = {
        "type": "record",
        "name": "Click",
        "fields": [{"name": "n", "type": "long"}, {"name": "who", "type": "string"}],
    }
    with (
        pytest.raises(IncompatibleSchemaError, match="'who'"),
        TopologyTestDriver(topology(reg, breaking)) as driver,
    ):
        driver.create_input_topic("in", value_serde=serdes.avro(V1, registry=reg)).pipe_input(
            "k", {"n": 1}
        )
    assert reg.get_versions("out-value") == [1]
