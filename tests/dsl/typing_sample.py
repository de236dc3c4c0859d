"""The windowed and cogrouped DSL as a user's type checker sees it (issue 15).

`make check` runs mypy --strict on this file. Every step goes through `assert_type`, which
mypy fails when the value's type is Any or anything but the class named, so a method typed
`-> Any` again (or returning the wrong grammar class) fails `make check`. tests/dsl/
test_typing.py builds the topology too, so the sample stays a valid program.
"""

from __future__ import annotations

from typing import Any, assert_type

from streamz_kit import (
    CogroupedKStream,
    EmitStrategy,
    KGroupedStream,
    KStream,
    KTable,
    SessionWindows,
    SlidingWindows,
    StreamsBuilder,
    TimeWindows,
    serdes,
)
from streamz_kit.dsl.cogrouped import (
    SessionWindowedCogroupedKStream,
    TimeWindowedCogroupedKStream,
)
from streamz_kit.dsl.windowed import SessionWindowedKStream, TimeWindowedKStream

S = serdes.STRING


def concat(key: Any, value: str, agg: str) -> str:
    return agg + value


def longest(a: str, b: str) -> str:
    return max(a, b, key=len)


def merge(key: Any, a: str, b: str) -> str:
    return a + b


def windowed_tables(grouped: KGroupedStream) -> list[KTable]:
    """count / reduce / aggregate of time, sliding and session windows, emit_strategy."""
    tumbling = assert_type(
        grouped.windowed_by(TimeWindows.of_size_with_no_grace(1000)), TimeWindowedKStream
    )
    closing = assert_type(
        tumbling.emit_strategy(EmitStrategy.on_window_close()), TimeWindowedKStream
    )
    sliding = assert_type(
        grouped.windowed_by(SlidingWindows.of_time_difference_with_no_grace(500)),
        TimeWindowedKStream,
    )
    sessions = assert_type(
        grouped.windowed_by(SessionWindows.of_inactivity_gap_with_no_grace(100)),
        SessionWindowedKStream,
    )
    sessions = assert_type(
        sessions.emit_strategy(EmitStrategy.on_window_update()), SessionWindowedKStream
    )
    return [
        assert_type(closing.count(), KTable),
        assert_type(tumbling.reduce(longest), KTable),
        assert_type(sliding.aggregate(str, concat), KTable),
        assert_type(sessions.count(), KTable),
        assert_type(sessions.reduce(longest), KTable),
        assert_type(sessions.aggregate(str, concat, merge), KTable),
    ]


def cogrouped_tables(one: KGroupedStream, two: KGroupedStream) -> list[KTable]:
    """cogroup, its aggregate, and its time, sliding and session windowed aggregates."""
    both = assert_type(one.cogroup(concat), CogroupedKStream)
    both = assert_type(both.cogroup(two, concat), CogroupedKStream)
    timed = assert_type(
        both.windowed_by(TimeWindows.of_size_with_no_grace(1000)), TimeWindowedCogroupedKStream
    )
    sliding = assert_type(
        both.windowed_by(SlidingWindows.of_time_difference_with_no_grace(500)),
        TimeWindowedCogroupedKStream,
    )
    sessions = assert_type(
        both.windowed_by(SessionWindows.of_inactivity_gap_with_no_grace(100)),
        SessionWindowedCogroupedKStream,
    )
    return [
        assert_type(both.aggregate(str), KTable),
        assert_type(timed.aggregate(str), KTable),
        assert_type(sliding.aggregate(str), KTable),
        assert_type(sessions.aggregate(str, merge), KTable),
    ]


def build() -> StreamsBuilder:
    """Every table above written to `out-<n>` through a method only KTable has."""
    builder = StreamsBuilder()
    one = builder.stream("one", key_serde=S, value_serde=S).group_by_key()
    two = builder.stream("two", key_serde=S, value_serde=S).group_by_key()
    tables = windowed_tables(one) + cogrouped_tables(one, two)
    for n, table in enumerate(tables):
        stream = assert_type(table.to_stream(), KStream)
        stream.to(f"out-{n}", value_serde=S)
    return builder
