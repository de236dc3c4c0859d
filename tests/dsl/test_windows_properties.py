"""Property tests: windowed counts equal plain-Python reference models.

Timestamps are random and out of order, so some records fall within grace and some are
late. The models decide lateness from first principles (stream time = max timestamp seen,
a window closes at end + grace) and never look at the implementation's stores.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.serdes_windowed import session_windowed, time_windowed
from streamz_kit.testing import TopologyTestDriver

records = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=0, max_value=200)),
    min_size=1,
    max_size=40,
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(windows: Any, recs: list[tuple[str, int]], session: bool) -> list[Any]:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .windowed_by(windows)
        .count(materialized=sk.Materialized("counts", store="memory", retention=10**9))
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        ks = (
            session_windowed(serdes.STRING)
            if session
            else time_windowed(serdes.STRING, windows.size_ms)
        )
        out = driver.create_output_topic("out", key_serde=ks, value_serde=serdes.LONG)
        for key, ts in recs:
            inp.pipe_input(key, "v", ts)
        return [
            (r.key.key, r.key.window.start, r.key.window.end, r.value)
            for r in out.read_records_to_list()
        ]


def _time_model(
    size: int, advance: int, grace: int, recs: list[tuple[str, int]]
) -> list[tuple[str, int, int, int]]:
    counts: dict[tuple[str, int], int] = {}
    stream_time = -1
    out = []
    for key, ts in recs:
        stream_time = max(stream_time, ts)
        for start in range(0, ts + 1, advance):
            if not start <= ts < start + size:
                continue
            if start + size <= stream_time - grace:
                continue  # closed: late for this window
            counts[(key, start)] = counts.get((key, start), 0) + 1
            out.append((key, start, start + size, counts[(key, start)]))
    return out


@SETTINGS
@given(
    recs=records,
    size=st.integers(min_value=1, max_value=30),
    grace=st.integers(min_value=0, max_value=30),
)
def test_tumbling_counts_match_model(recs: list[tuple[str, int]], size: int, grace: int) -> None:
    windows = sk.TimeWindows.of_size_and_grace(size, grace)
    assert _run(windows, recs, False) == _time_model(size, size, grace, recs)


@SETTINGS
@given(
    recs=records,
    size=st.integers(min_value=1, max_value=30),
    hops=st.integers(min_value=1, max_value=4),
    grace=st.integers(min_value=0, max_value=30),
)
def test_hopping_counts_match_model(
    recs: list[tuple[str, int]], size: int, hops: int, grace: int
) -> None:
    advance = max(1, size // hops)
    windows = sk.TimeWindows.of_size_and_grace(size, grace).advance_by(advance)
    assert _run(windows, recs, False) == _time_model(size, advance, grace, recs)


def _clusters(stamps: list[int], gap: int) -> list[tuple[int, int, int]]:
    """Sessions from scratch: sorted timestamps split where neighbours are > gap apart."""
    out: list[tuple[int, int, int]] = []
    for ts in sorted(stamps):
        if out and ts - out[-1][1] <= gap:
            start, _, n = out[-1]
            out[-1] = (start, ts, n + 1)
        else:
            out.append((ts, ts, 1))
    return out


def _session_model(
    gap: int, grace: int, recs: list[tuple[str, int]]
) -> dict[str, list[tuple[int, int, int]]]:
    """Accepted records per key: a record is late when the session it would belong to
    (its cluster among the records accepted so far) ended before stream time - gap - grace."""
    accepted: dict[str, list[int]] = {}
    stream_time = -1
    for key, ts in recs:
        stream_time = max(stream_time, ts)
        candidate = accepted.get(key, []) + [ts]
        session = next(c for c in _clusters(candidate, gap) if c[0] <= ts <= c[1])
        if session[1] < stream_time - grace - gap:
            continue
        accepted[key] = candidate
    return {key: _clusters(stamps, gap) for key, stamps in accepted.items()}


@SETTINGS
@given(
    recs=records,
    gap=st.integers(min_value=1, max_value=20),
    grace=st.integers(min_value=0, max_value=30),
)
def test_session_counts_match_model(recs: list[tuple[str, int]], gap: int, grace: int) -> None:
    windows = sk.SessionWindows.of_inactivity_gap_and_grace(gap, grace)
    rows = _run(windows, recs, True)
    live: dict[tuple[str, int, int], int] = {}
    for key, start, end, count in rows:
        if count is None:
            assert (key, start, end) in live, "a tombstone for a session never emitted"
            del live[(key, start, end)]
        else:
            live[(key, start, end)] = count
    got: dict[str, list[tuple[int, int, int]]] = {}
    for (key, start, end), count in sorted(live.items()):
        got.setdefault(key, []).append((start, end, count))
    assert got == _session_model(gap, grace, recs)


@SETTINGS
@given(
    recs=records,
    size=st.integers(min_value=1, max_value=30),
    grace=st.integers(min_value=0, max_value=30),
)
def test_suppressed_tumbling_counts_emit_each_closed_window_once(
    recs: list[tuple[str, int]], size: int, grace: int
) -> None:
    builder = sk.StreamsBuilder()
    (
        builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_and_grace(size, grace))
        .count()
        .suppress(sk.Suppressed.until_window_closes())
        .to_stream()
        .to("out", value_serde=serdes.LONG)
    )
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", key_serde=serdes.STRING, value_serde=serdes.STRING)
        out = driver.create_output_topic(
            "out", key_serde=time_windowed(serdes.STRING, size), value_serde=serdes.LONG
        )
        for key, ts in recs:
            inp.pipe_input(key, "v", ts)
        emitted = [(r.key.key, r.key.window.start, r.value) for r in out.read_records_to_list()]
    final: dict[tuple[str, int], int] = {}
    for key, start, _, count in _time_model(size, size, grace, recs):
        final[(key, start)] = count
    stream_time = max(ts for _, ts in recs)
    closed = {k: c for k, c in final.items() if k[1] + size <= stream_time - grace}
    assert len(emitted) == len({(k, s) for k, s, _ in emitted})  # once per window
    assert {(k, s): c for k, s, c in emitted} == closed
