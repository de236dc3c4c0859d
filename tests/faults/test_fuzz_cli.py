"""Hostile input lines for `streamz-kit produce`: exit 0, or exit 1 with one `Error:` sentence.

A traceback (any exception escaping the command) means a bug: a user typing or piping bad
data must be told what is wrong with the line, not shown streamz_kit's insides.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamz_kit.cli import main
from streamz_kit.cli_records import SERDE_NAMES

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

fields = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "1",
            "-1",
            "1.5",
            "nan",
            "inf",
            "1e999",
            "99999999999999999999999",
            "-9223372036854775809",
            "2147483648",
            "null",
            "true",
            "{}",
            "[1,",
            '{"a": 1}',
            '"x"',
            "aGVsbG8=",
            "aGVsbG8",
            "\x00",
            "\ud800x",
            "é",
        ]
    ),
    st.integers().map(str),
    st.floats().map(repr),
)
lines = st.lists(
    st.one_of(
        st.builds(lambda k, v: f"{k}\t{v}", fields, fields),
        fields,
        st.builds(lambda k, v, w: f"{k}\t{v}\t{w}", fields, fields, fields),
    ),
    max_size=6,
).map(lambda ls: "\n".join(ls))


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"embedded://{Path(tmp) / 'log'}"


def _check(result: object, input_desc: str) -> None:
    exit_code = result.exit_code  # type: ignore[attr-defined]
    exception = result.exception  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert exception is None or isinstance(exception, SystemExit), (
        f"traceback for input {input_desc}: {exception!r}\n{stderr}"
    )
    assert exit_code in (0, 1), (exit_code, stderr)
    if exit_code == 1:
        errors = [line for line in stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith("Error: "), stderr
        assert "Traceback" not in stderr


@settings(FUZZ, max_examples=250)
@given(text=lines, key_serde=st.sampled_from(SERDE_NAMES), value_serde=st.sampled_from(SERDE_NAMES))
def test_produce_arbitrary_lines(broker: str, key_serde: str, value_serde: str, text: str) -> None:
    runner = CliRunner()
    encoded = text.encode("utf-8", "surrogatepass")
    result = runner.invoke(
        main,
        [
            "produce",
            "fuzz",
            "--broker",
            broker,
            "--key-serde",
            key_serde,
            "--value-serde",
            value_serde,
        ],
        input=encoded,
    )
    _check(result, repr(text))


@FUZZ
@given(data=st.binary(max_size=200))
def test_produce_arbitrary_bytes_on_stdin(broker: str, data: bytes) -> None:
    result = CliRunner().invoke(main, ["produce", "raw", "--broker", broker], input=data)
    _check(result, repr(data))


@FUZZ
@given(topic=st.text(max_size=20), partitions=st.integers(-3, 3))
def test_produce_arbitrary_topic_and_partitions(broker: str, topic: str, partitions: int) -> None:
    result = CliRunner().invoke(
        main,
        ["produce", "--broker", broker, "--partitions", str(partitions), "--", topic],
        input="k\t1\n",
    )
    _check(result, repr((topic, partitions)))
