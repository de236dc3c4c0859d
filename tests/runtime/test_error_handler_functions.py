"""Error handlers as functions (KIP-1033 style): handler(context, exc) -> "continue" | "fail"."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import ConfigError, StreamsProcessingError
from streamz_kit.handlers import ErrorContext
from streamz_kit.testing import TopologyTestDriver


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .map_values(lambda v: 100 // v["n"], name="divide")  # n == 0 raises ZeroDivisionError
        .map_values(lambda v: "big" if v > 50 else v, name="label")  # "big" cannot be a LONG
        .to("out", value_serde=serdes.LONG)
    )
    return builder.build()


class Recorder:
    """A handler function that remembers what it was told and answers as configured."""

    def __init__(self, answer: Any = "continue") -> None:
        self.answer = answer
        self.calls: list[tuple[ErrorContext, BaseException]] = []

    def __call__(self, context: ErrorContext, exc: BaseException) -> Any:
        self.calls.append((context, exc))
        return self.answer


def run(config: dict[str, Any], values: list[bytes]) -> list[tuple[str, int]]:
    with TopologyTestDriver(topology(), config=config) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.BYTES)
        for i, raw in enumerate(values):
            inp.pipe_input(f"k{i}", raw, timestamp_ms=100 + i)
        out = driver.create_output_topic("out", value_serde=serdes.LONG)
        return out.read_key_values_to_list()


def test_each_kind_of_error_reaches_its_function_with_the_record_context() -> None:
    handlers = {kind: Recorder() for kind in ("deserialization", "processing", "production")}
    config = {f"{kind}_error_handler": h for kind, h in handlers.items()}
    values = [b'{"n": 5}', b"{not json", b'{"n": 0}', b'{"n": 1}', b'{"n": 50}']
    assert run(config, values) == [("k0", 20), ("k4", 2)]
    expected = {
        "deserialization": (1, "KSTREAM-SOURCE-0000000000", b"{not json", "SerializationError"),
        "processing": (2, "divide", b'{"n": 0}', "ZeroDivisionError"),
        "production": (3, "KSTREAM-SINK-0000000001", b'{"n": 1}', None),
    }
    for kind, (offset, operator, raw, exc_name) in expected.items():
        [(context, exc)] = handlers[kind].calls
        assert (context.kind, context.topic, context.partition, context.offset) == (
            kind,
            "in",
            0,
            offset,
        )
        assert context.operator == operator
        assert (context.key, context.value) == (f"k{offset}".encode(), raw)
        assert context.timestamp == 100 + offset and context.task_id == "0_0"
        if exc_name:
            assert type(exc).__name__ == exc_name


def test_fail_answer_stops_with_the_named_error() -> None:
    handler = Recorder("fail")
    with pytest.raises(StreamsProcessingError, match="in-0@1") as info:
        run({"processing_error_handler": handler}, [b'{"n": 5}', b'{"n": 0}'])
    assert info.value.node == "divide"
    assert len(handler.calls) == 1


@pytest.mark.parametrize("answer", ["skip", None, 1])
def test_an_unknown_answer_fails_and_says_what_is_allowed(answer: Any) -> None:
    with pytest.raises(StreamsProcessingError, match="must return 'continue' or 'fail'"):
        run({"processing_error_handler": Recorder(answer)}, [b'{"n": 0}'])


def test_a_handler_that_raises_fails_the_record() -> None:
    def broken(context: ErrorContext, exc: BaseException) -> str:
        raise RuntimeError("handler bug")

    with pytest.raises(StreamsProcessingError, match="handler raised RuntimeError") as info:
        run({"deserialization_error_handler": broken}, [b"{not json"])
    assert isinstance(info.value.__cause__, RuntimeError)


def test_named_policies_still_resolve_and_bad_specs_are_refused() -> None:
    assert run({"processing_error_handler": "log_and_continue"}, [b'{"n": 0}', b'{"n": 4}']) == [
        ("k1", 25)
    ]
    with pytest.raises(ConfigError, match="handler\\(context, exc\\)"):
        sk.App(topology(), application_id="x", processing_error_handler=42)
