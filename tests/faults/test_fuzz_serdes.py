"""Hostile bytes and objects against every serde: a value or a clear SerializationError.

Anything else (a TypeError, an orjson error, a struct.error) would reach the user as an
unexplained traceback from deep inside a task, so it is a bug.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamz_kit import serdes
from streamz_kit.errors import SerializationError
from streamz_kit.serdes_windowed import SessionWindowedSerde, TimeWindowedSerde
from streamz_kit.topology.internal_serdes import ChangeSerde
from streamz_kit.windows import Window, Windowed

PLAIN = [serdes.JSON, serdes.STRING, serdes.BYTES, serdes.INT, serdes.LONG, serdes.FLOAT]
ALL = PLAIN + [
    TimeWindowedSerde(serdes.STRING, 60_000),
    TimeWindowedSerde(serdes.JSON, 1),
    SessionWindowedSerde(serdes.LONG),
    SessionWindowedSerde(None),
    ChangeSerde(serdes.JSON),
    ChangeSerde(serdes.INT),
]
INT64 = st.integers(-(2**63), 2**63 - 1)  # timestamps are Kafka longs
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_OBJECTS = settings(FUZZ, max_examples=80)

# Bytes that look almost right get further into a parser than uniform noise does.
near_misses = st.one_of(
    st.binary(max_size=64),
    st.binary(min_size=4, max_size=4),
    st.binary(min_size=8, max_size=8),
    st.binary(min_size=16, max_size=24),
    st.text(max_size=40).map(str.encode),
    st.builds(
        lambda b, t: b"{" + b + t, st.binary(max_size=20), st.sampled_from([b"}", b"", b"]"])
    ),
    st.builds(
        lambda f, n, body: bytes([f]) + n.to_bytes(4, "big") + body,
        st.integers(0, 255),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=20),
    ),
)

objects = (
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
            | st.tuples(inner, inner)
            | st.frozensets(st.integers(), max_size=3)
        ),
        max_leaves=12,
    )
    | st.builds(object)
    | st.builds(complex, st.floats(), st.floats())
)


def _name(serde: Any) -> str:
    return f"{type(serde).__name__}-{getattr(serde, 'name', '')}"


@pytest.mark.parametrize("serde", ALL, ids=_name)
@FUZZ
@given(data=near_misses)
def test_deserialize_arbitrary_bytes_gives_value_or_serialization_error(
    serde: Any, data: bytes
) -> None:
    try:
        serde.deserialize("t", data)
    except SerializationError as exc:
        message = str(exc)
        assert message and "'t'" in message, message


@pytest.mark.parametrize("serde", PLAIN, ids=_name)
@FUZZ_OBJECTS
@given(obj=objects)
def test_serialize_arbitrary_objects_gives_bytes_or_serialization_error(
    serde: Any, obj: Any
) -> None:
    try:
        data = serde.serialize("t", obj)
    except SerializationError as exc:
        assert str(exc), "empty error message"
        return
    if obj is None:
        assert data is None
        return
    assert isinstance(data, bytes)
    back = serde.deserialize("t", data)  # what a serde wrote, it must read back
    if serde is serdes.FLOAT:
        assert back == float(obj) or (math.isnan(back) and math.isnan(obj))
    elif serde in (serdes.INT, serdes.LONG):
        assert back == obj


@pytest.mark.parametrize("serde", [s for s in ALL if not isinstance(s, ChangeSerde)], ids=_name)
@FUZZ_OBJECTS
@given(obj=objects | st.builds(Windowed, objects, st.builds(Window, INT64, INT64)))
def test_windowed_and_plain_serdes_never_raise_raw_errors_on_objects(serde: Any, obj: Any) -> None:
    try:
        serde.serialize("t", obj)
    except SerializationError:
        pass


@pytest.mark.parametrize("serde", ALL, ids=_name)
def test_none_maps_to_none_or_a_clear_error(serde: Any) -> None:
    if isinstance(serde, ChangeSerde):
        with pytest.raises(SerializationError):
            serde.deserialize("t", None)
        return
    assert serde.serialize("t", None) is None
    assert serde.deserialize("t", None) is None
