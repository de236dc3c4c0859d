"""Serdes: round trips, None handling, Kafka-compatible bytes, and clear errors."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.serdes import describe_bytes
from streamz_kit.testing import TopologyTestDriver

ALL = [serdes.JSON, serdes.STRING, serdes.BYTES, serdes.INT, serdes.LONG, serdes.FLOAT]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)


@pytest.mark.parametrize("serde", ALL, ids=repr)
def test_none_maps_to_none(serde: Any) -> None:
    assert serde.serialize("t", None) is None
    assert serde.deserialize("t", None) is None


@given(json_values)
def test_json_round_trip(value: Any) -> None:
    data = serdes.JSON.serialize("t", value)
    if value is None:
        assert data is None
    else:
        assert serdes.JSON.deserialize("t", data) == value


@given(st.text())
def test_string_round_trip(value: str) -> None:
    assert serdes.STRING.deserialize("t", serdes.STRING.serialize("t", value)) == value


@given(st.binary())
def test_bytes_round_trip(value: bytes) -> None:
    assert serdes.BYTES.deserialize("t", serdes.BYTES.serialize("t", value)) == value


@given(st.integers(-(2**31), 2**31 - 1))
def test_int_round_trip(value: int) -> None:
    data = serdes.INT.serialize("t", value)
    assert data == struct.pack(">i", value)  # Kafka's IntegerSerializer layout
    assert serdes.INT.deserialize("t", data) == value


@given(st.integers(-(2**63), 2**63 - 1))
def test_long_round_trip(value: int) -> None:
    data = serdes.LONG.serialize("t", value)
    assert data == struct.pack(">q", value)
    assert serdes.LONG.deserialize("t", data) == value


@given(st.floats(allow_nan=False))
def test_float_round_trip(value: float) -> None:
    data = serdes.FLOAT.serialize("t", value)
    assert len(data) == 8
    assert serdes.FLOAT.deserialize("t", data) == value


def test_float_nan_and_int_input() -> None:
    assert math.isnan(serdes.FLOAT.deserialize("t", serdes.FLOAT.serialize("t", math.nan)))
    assert serdes.FLOAT.deserialize("t", serdes.FLOAT.serialize("t", 3)) == 3.0


def test_known_bytes() -> None:
    assert serdes.STRING.serialize("t", "héllo") == "héllo".encode()
    assert serdes.JSON.serialize("t", {"a": [1, 2]}) == b'{"a":[1,2]}'
    assert serdes.JSON.serialize("t", {1: "x"}) == b'{"1":"x"}'  # non-str keys allowed
    assert serdes.LONG.serialize("t", 1) == b"\x00" * 7 + b"\x01"
    assert serdes.BYTES.serialize("t", bytearray(b"ab")) == b"ab"


@pytest.mark.parametrize(
    ("serde", "value", "pattern"),
    [
        (serdes.STRING, 5, "serdes.STRING cannot serialize int 5 for topic 't'"),
        (serdes.STRING, b"x", "takes str only"),
        (serdes.BYTES, "x", "serdes.BYTES cannot serialize str"),
        (serdes.INT, "5", "serdes.INT cannot serialize str"),
        (serdes.INT, 2**31, "Use serdes.LONG"),
        (serdes.LONG, 2**63, "serdes.LONG cannot serialize"),
        (serdes.LONG, 1.5, "serdes.LONG cannot serialize float"),
        (serdes.LONG, True, "serdes.LONG cannot serialize bool"),
        (serdes.FLOAT, "1.0", "serdes.FLOAT cannot serialize str"),
        (serdes.JSON, object(), "Cannot serialize object .* as JSON for topic 't'"),
        (serdes.JSON, {1, 2}, "as JSON"),
    ],
)
def test_wrong_types_raise_clear_errors(serde: Any, value: Any, pattern: str) -> None:
    with pytest.raises(sk.SerializationError, match=pattern):
        serde.serialize("t", value)


@pytest.mark.parametrize(
    ("serde", "data", "pattern"),
    [
        (serdes.JSON, b"{nope", "not valid JSON"),
        (serdes.STRING, b"\xff\xfe", "not valid UTF-8"),
        (serdes.INT, b"\x00\x01", "expects 4 bytes on topic 't' but got 2"),
        (serdes.LONG, b"\x00" * 4, "expects 8 bytes .* but got 4"),
        (serdes.FLOAT, b"\x00" * 9, "expects 8 bytes .* but got 9"),
    ],
)
def test_wrong_bytes_raise_clear_errors(serde: Any, data: bytes, pattern: str) -> None:
    with pytest.raises(sk.SerializationError, match=pattern) as info:
        serde.deserialize("t", data)
    assert repr(data)[:10] in str(info.value)  # the offending bytes are shown


def test_json_bytes_hold_only_their_size() -> None:
    """orjson over-allocates its output (>= 4 KiB each since 3.12); outputs and store values
    wait in memory until the commit, so the JSON serde must hand back exact-size bytes.
    10,000 small values held at once must cost well under 10,000 x 4 KiB (= 40 MB)."""
    import tracemalloc

    dumps = serdes.fast_dumper(serdes.JSON)
    assert dumps is not None
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        held = [serdes.JSON.serialize("t", i) for i in range(5_000)]
        held += [dumps({"n": i}) for i in range(5_000)]
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held[7] == b"7" and held[5_003] == b'{"n":3}'
    assert used < 2_000_000, f"{len(held)} small JSON values hold {used} bytes"


def test_describe_bytes_truncates() -> None:
    assert describe_bytes(None) == "None"
    assert describe_bytes(b"abc") == "b'abc'"
    long = describe_bytes(b"a" * 1000)
    assert long == repr(b"a" * 64) + "... (1000 bytes)"


def test_error_for_long_bytes_is_truncated() -> None:
    with pytest.raises(sk.SerializationError) as info:
        serdes.JSON.deserialize("t", b"{" * 10_000)
    assert "(10000 bytes)" in str(info.value)
    assert len(str(info.value)) < 500


def test_by_name() -> None:
    assert serdes.by_name("String") is serdes.STRING
    assert serdes.by_name("double") is serdes.FLOAT
    for name in ("json", "long", "int", "bytes", "float"):
        assert serdes.by_name(name).name == name  # type: ignore[attr-defined]
    with pytest.raises(sk.SerializationError, match="choose one of"):
        serdes.by_name("avro")


class Upper:
    """A user serde: any object with serialize/deserialize works."""

    def serialize(self, topic: str, obj: Any) -> bytes | None:
        return None if obj is None else obj.upper().encode()

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        return None if data is None else data.decode().lower()


def test_custom_serde_object_works_end_to_end() -> None:
    builder = sk.StreamsBuilder()
    builder.stream("in", value_serde=Upper()).map_values(lambda v: v + "!").to(
        "out", value_serde=Upper()
    )
    with TopologyTestDriver(builder.build()) as driver:
        raw_in = driver.create_input_topic("in", value_serde=serdes.BYTES)
        raw_in.pipe_input("k", b"HELLO")
        raw_out = driver.create_output_topic("out", value_serde=serdes.BYTES)
        assert raw_out.read_value() == b"HELLO!"
    assert isinstance(Upper(), serdes.Serde)
