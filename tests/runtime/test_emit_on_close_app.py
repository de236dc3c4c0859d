"""Emit-on-window-close under the App, with a restart from an empty state directory in the
middle: the close time up to which results were emitted is restored with the window store,
so no final result is repeated or skipped."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import streamz_kit as sk
from streamz_kit import EmitStrategy, serdes
from streamz_kit.serdes_windowed import time_windowed
from tests.runtime.e2e import read_all
from tests.runtime.test_versioned_app import produce

WINDOW = 10


def topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    (
        builder.stream("clicks", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .group_by_key()
        .windowed_by(sk.TimeWindows.of_size_and_grace(WINDOW, 5))
        .emit_strategy(EmitStrategy.on_window_close())
        .count(materialized=sk.Materialized("clicks-per-window", retention=1000))
        .to_stream()
        .to("finals", key_serde=time_windowed(serdes.STRING, WINDOW), value_serde=serdes.LONG)
    )
    return builder.build()


def finals(broker: str) -> list[tuple[str, int, int]]:
    key_serde = time_windowed(serdes.STRING, WINDOW)
    out = []
    for k, v in asyncio.run(read_all(broker, "finals")):
        w = key_serde.deserialize("finals", k)
        out.append((w.key, w.window.start, serdes.LONG.deserialize("finals", v)))
    return out


def test_final_results_are_emitted_once_across_a_restart(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    # One key per partition-independent stream of times; "a" and "b" each count 3 per window.
    first = [(key, {"n": i}, t) for t in range(0, 60, 4) for i, key in enumerate("ab")]
    second = [(key, {"n": i}, t) for t in range(60, 120, 4) for i, key in enumerate("ab")]

    async def run(rows: list[tuple[str, object, int]], want: int) -> None:
        await produce(broker, "clicks", rows)
        app = sk.App(
            topology(),
            application_id="finals",
            broker=broker,
            state_dir=state,
            commit_interval_ms=20,
        )
        await app.start()
        deadline = time.monotonic() + 20
        while len(await asyncio.to_thread(finals, broker)) < want:
            assert app.error is None, app.error
            assert time.monotonic() < deadline, app.metrics()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # anything extra (a repeated window) would show up now
        await app.stop()

    # Stream time 56 closes every window ending at or before 51: [0,10) .. [40,50).
    asyncio.run(run(first, 10))
    shutil.rmtree(state)  # the emitted-up-to time must come back from the changelog
    asyncio.run(run(second, 22))
    got = finals(broker)
    assert len(got) == len(set(got)) == 22  # no window emitted twice
    starts = sorted({start for _, start, _ in got})
    assert starts == list(range(0, 110, 10))
    by_window = {(key, start): count for key, start, count in got}
    assert by_window[("a", 0)] == 3 and by_window[("b", 100)] == 3
