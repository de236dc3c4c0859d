"""When the worker commits: under exactly_once the commit interval is a maximum, not a
schedule. A worker that has caught up with its input commits at once (runtime/worker.py,
`Worker._eager_commit_wait`), so each read_committed hop waits for one commit instead of
up to a whole interval; at_least_once keeps its interval.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.config import AppConfig
from streamz_kit.runtime import worker as worker_module
from streamz_kit.runtime.worker import Worker
from streamz_kit.transport.port import TopicPartition
from tests.runtime.e2e import read_all
from tests.runtime.test_versioned_app import produce

HOUR_MS = 3_600_000


def two_hops() -> sk.Topology:
    """Re-keyed through a repartition topic, counted, written out: the count's input is
    read read_committed, so its outputs need two commits to become visible."""
    builder = sk.StreamsBuilder()
    (
        builder.stream("clicks", key_serde=serdes.STRING, value_serde=serdes.JSON)
        .group_by(lambda user, click: click["page"], key_serde=serdes.STRING)
        .count(materialized=sk.Materialized("per-page"))
        .to_stream()
        .to("page-counts", key_serde=serdes.STRING, value_serde=serdes.LONG)
    )
    return builder.build()


def final_counts(rows: list[tuple[bytes | None, bytes | None]]) -> dict[str, int]:
    last: dict[str, int] = {}
    for key, value in rows:
        assert key is not None and value is not None
        last[key.decode()] = serdes.LONG.deserialize("page-counts", value)
    return last


def test_exactly_once_outputs_appear_without_waiting_for_the_interval(tmp_path: Path) -> None:
    """With a one-hour interval, only the commits made on catching up can publish the
    outputs: the counts through both hops arrive, exact, and the input keeps flowing."""
    broker = f"embedded://{tmp_path / 'log'}"
    pages = ["home", "cart", "search", "help"]
    first = [(f"u{i}", {"page": pages[i % 4]}, 1_000 + i) for i in range(40)]
    second = [(f"u{i}", {"page": pages[i % 3]}, 2_000 + i) for i in range(30)]

    async def go() -> tuple[dict[str, int], int]:
        await produce(broker, "clicks", first)
        app = sk.App(
            two_hops(),
            application_id="eager",
            broker=broker,
            state_dir=tmp_path / "state",
            processing_guarantee="exactly_once",
            commit_interval_ms=HOUR_MS,
            cache_max_bytes=0,
        )
        await app.start()
        try:
            want = Counter(v["page"] for _, v, _ in first)
            got: dict[str, int] = {}

            async def wait(expected: Counter[str], what: str) -> None:
                deadline = time.monotonic() + 20
                while True:
                    assert app.error is None, app.error
                    got.clear()
                    got.update(final_counts(await read_all(broker, "page-counts")))
                    if got == dict(expected):
                        return
                    assert time.monotonic() < deadline, f"timed out waiting for {what}: {got}"
                    await asyncio.sleep(0.05)

            await wait(want, "the first counts, through both hops")
            await produce(broker, "clicks", second)
            want.update(v["page"] for _, v, _ in second)
            await wait(want, "the counts after more input")
            worker = app._worker  # noqa: SLF001 -- read-only: how many commits it made
            assert worker is not None and worker.tasks is not None
            commits = worker.tasks.stats.commits
        finally:
            await app.stop()
        return dict(got), commits

    counts, commits = asyncio.run(go())
    assert counts == dict(Counter(v["page"] for _, v, _ in first + second))
    assert commits >= 4  # two hops, twice: each hop's output waited for a commit of its own
    # Every update through the cache-less count is there once: no duplicate from the
    # extra commits (each page's updates are 1, 2, ... its count).
    rows = asyncio.run(read_all(broker, "page-counts"))
    updates: dict[str, list[int]] = {}
    for key, value in rows:
        assert key is not None and value is not None
        updates.setdefault(key.decode(), []).append(serdes.LONG.deserialize("page-counts", value))
    for page, seen in updates.items():
        assert seen == list(range(1, counts[page] + 1)), (page, seen)


class _Stats:
    records_since_commit = 0


class _Tasks:
    stats = _Stats()


def _worker(guarantee: str) -> Worker:
    config = AppConfig.from_settings(application_id="rule", processing_guarantee=guarantee)
    worker = Worker.__new__(Worker)
    worker.config = config
    worker.tasks = _Tasks()  # type: ignore[assignment]
    worker._eager_commits = config.exactly_once  # on a transport with local commits
    return worker


def test_the_early_commit_rule() -> None:
    gap_ms = worker_module.EAGER_COMMIT_GAP_S * 1000
    eos = _worker("exactly_once")
    _Stats.records_since_commit = 0
    assert eos._eager_commit_wait(100.0, [], now=100.5) is None  # nothing to commit
    _Stats.records_since_commit = 7
    assert eos._eager_commit_wait(100.0, [], now=100.5) == 0  # caught up, gap passed
    wait = eos._eager_commit_wait(100.0, [], now=100.0)
    assert wait is not None and 0 < wait <= gap_ms  # too soon after the last commit
    assert eos._eager_commit_wait(100.0, [object()], now=100.5) is None  # type: ignore[list-item]
    # at_least_once outputs are visible before the commit: it keeps its interval
    assert _worker("at_least_once")._eager_commit_wait(100.0, [], now=100.5) is None


def test_at_least_once_commits_the_tasks_named(tmp_path: Path) -> None:
    """The worker spreads an at_least_once commit of many tasks over several loop turns
    (COMMIT_SLICE_TASKS a turn): a commit of some tasks commits their input offsets and
    leaves the other tasks' offsets where they were."""
    broker = f"embedded://{tmp_path / 'log'}"
    rows = [(f"u{i}", {"page": f"p{i % 5}"}, 1_000 + i) for i in range(60)]

    async def go() -> tuple[dict[str, set[TopicPartition]], dict[TopicPartition, int], str]:
        await produce(broker, "clicks", rows)
        app = sk.App(
            two_hops(),
            application_id="slices",
            broker=broker,
            state_dir=tmp_path / "state",
            commit_interval_ms=HOUR_MS,
            cache_max_bytes=0,
        )
        await app.start()
        try:
            worker = app._worker  # noqa: SLF001 -- drives its TaskManager directly
            assert worker is not None
            deadline = time.monotonic() + 20
            want = dict(Counter(v["page"] for _, v, _ in rows))
            while final_counts(await read_all(broker, "page-counts")) != want:
                assert app.error is None, app.error
                assert time.monotonic() < deadline, "the counts did not arrive"
                await asyncio.sleep(0.05)
            tasks, consumer = worker.tasks, worker.consumer
            assert tasks is not None and consumer is not None
            inputs: dict[str, set[TopicPartition]] = {}
            for tp, task in tasks.task_by_tp.items():
                inputs.setdefault(task.task_id, set()).add(tp)
            chosen = sorted(inputs)[0]
            assert await tasks.commit(only=[chosen])
            committed = await consumer.committed(list(tasks.task_by_tp))
        finally:
            await app.stop()
        return inputs, committed, chosen

    inputs, committed, chosen = asyncio.run(go())
    assert len(inputs) > 1
    assert set(committed) == inputs[chosen]  # only the chosen task's partitions
    assert all(offset > 0 for offset in committed.values())
