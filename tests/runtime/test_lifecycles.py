"""Task and App lifecycles: states change only through their transition tables."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import IllegalStateError
from streamz_kit.runtime.task import Task, TaskState
from tests.runtime.e2e import produce


def _topology() -> sk.Topology:
    builder = sk.StreamsBuilder()
    builder.stream("in", key_serde=serdes.STRING, value_serde=serdes.JSON).to("out")
    return builder.build()


def _task() -> Task:
    topo = _topology()
    return Task(
        topology=topo,
        subtopology=topo.subtopologies[0],
        partition=0,
        application_id="app",
        stores={},
        partition_count=lambda topic: 1,
    )


def test_a_task_walks_created_restoring_running_suspended_closed() -> None:
    task = _task()
    assert task.state is TaskState.CREATED
    task.initialize()
    assert task.state is TaskState.RESTORING
    task.complete_restoration()
    assert task.state is TaskState.RUNNING
    task.suspend()
    assert task.state is TaskState.SUSPENDED
    task.resume()
    assert task.state is TaskState.RUNNING
    task.close()
    assert task.state is TaskState.CLOSED


@pytest.mark.parametrize(
    "steps",
    [
        ("complete_restoration",),  # running before restoring
        ("suspend",),  # suspending a task that never ran
        ("start", "resume"),  # resuming a running task
        ("start", "close", "close"),  # closing twice
        ("close", "start"),  # reopening
    ],
)
def test_a_task_refuses_transitions_outside_its_table(steps: tuple[str, ...]) -> None:
    task = _task()
    *ok, bad = steps
    for step in ok:
        getattr(task, step)()
    before = task.state
    with pytest.raises(IllegalStateError, match=f"Task 0_0 cannot go from {before.name}"):
        getattr(task, bad)()
    assert task.state is before


def test_the_app_walks_its_states_and_refuses_a_second_start(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path}"
    app = sk.App(_topology(), application_id="life", broker=broker)
    seen = [app.state]

    async def scenario() -> None:
        await produce(broker, "in", [("k", 1)], partitions=1)
        await app.start()
        seen.append(app.state)
        with pytest.raises(sk.StreamzError, match="already started"):
            await app.start()
        await app.stop()
        seen.append(app.state)
        await app.stop()  # stopping twice is a no-op
        seen.append(app.state)

    asyncio.run(scenario())
    assert seen == [
        sk.AppState.CREATED,
        sk.AppState.RUNNING,
        sk.AppState.STOPPED,
        sk.AppState.STOPPED,
    ]


def test_stopping_an_app_that_never_started_stops_it(tmp_path: Path) -> None:
    app = sk.App(_topology(), application_id="life", broker=f"embedded://{tmp_path}")
    asyncio.run(app.stop())
    assert app.state is sk.AppState.STOPPED
