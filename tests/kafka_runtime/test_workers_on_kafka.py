"""Several worker processes of one application on the session's real Kafka broker.

Each test runs `python -m streamz_kit run APP --broker kafka://...` subprocesses, produces
in large batches and checks outputs through the broker.
at_least_once checks are duplicate-proof: every input seq must be present in `copies` and
in its user's set-union aggregate, while update counts may only be at least the truth.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from pathlib import Path

import pytest

from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicSpec
from tests.kafka_runtime.helpers import (
    Worker,
    complete,
    copies,
    expected_seqs,
    latest_aggregates,
    produce_events,
    wait_for,
)
from tests.runtime.e2e import read_all, run

pytestmark = pytest.mark.kafka


def _new_app(broker: str, partitions: int) -> str:
    prefix = f"kr{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        transport = connect(broker)
        await transport.start()
        try:
            await transport.admin().create_topics([TopicSpec(f"{prefix}-events", partitions)])
        finally:
            await transport.close()

    run(create())
    return prefix


def _env(broker: str, prefix: str, state: Path, **extra: str) -> dict[str, str]:
    return {"KR_BROKER": broker, "KR_PREFIX": prefix, "KR_STATE_DIR": str(state), **extra}


def _start(n: int, broker: str, prefix: str, tmp: Path, **extra: str) -> list[Worker]:
    return [
        Worker(
            "seq_app.py",
            broker,
            _env(broker, prefix, tmp / f"state{i}", **extra),
            tmp / f"w{i}.log",
        )
        for i in range(n)
    ]


def _owned(workers: list[Worker]) -> list[str]:
    return sorted(t for w in workers for t in (w.running_tasks() or []))


def _all_tasks(partitions: int) -> list[str]:
    return sorted(f"{s}_{p}" for s in (0, 1) for p in range(partitions))


def _stop_all(workers: list[Worker]) -> None:
    for w in workers:
        if w.alive():
            w.stop(signal.SIGTERM)


def _check_aggregates(broker: str, prefix: str, n: int, users: int = 7) -> None:
    latest = latest_aggregates(broker, prefix)
    want = expected_seqs(n, users)
    assert {u: set(a["seqs"]) for u, a in latest.items()} == want
    for user, agg in latest.items():
        assert agg["n"] >= len(want[user]), (user, agg["n"])  # duplicates only add


def _co_located(workers: list[Worker]) -> None:
    """Task p of both sub-topologies (and so partition p of every topic) on one worker."""
    for w in workers:
        tasks = w.running_tasks() or []
        indices0 = {t.split("_")[1] for t in tasks if t.startswith("0_")}
        indices1 = {t.split("_")[1] for t in tasks if t.startswith("1_")}
        assert indices0 == indices1, tasks


def test_two_workers_share_partitions_and_survive_a_sigkill(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total = kafka_runtime, 4, 4000
    prefix = _new_app(broker, partitions)
    workers = _start(2, broker, prefix, tmp_path)
    try:
        # The first worker to join holds everything until the second one's join rebalances.
        wait_for(
            lambda: (
                _owned(workers) == _all_tasks(partitions)
                and all(w.running_tasks() for w in workers)
            ),
            60,
            workers,
            "both workers to share all tasks",
        )
        _co_located(workers)
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(
            lambda: len(set(copies(broker, prefix))) >= total // 4,
            60,
            workers,
            "processing to start",
        )
        workers[1].stop(signal.SIGKILL)
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(
            lambda: complete(broker, prefix, total),
            90,
            workers,
            "the survivor to finish every input",
        )
        assert workers[0].running_tasks() == _all_tasks(partitions)
        _check_aggregates(broker, prefix, total)
        assert workers[0].alive()
    finally:
        _stop_all(workers)


def test_three_workers_with_standbys_fail_over_restoring_only_the_tail(
    kafka_runtime: str, tmp_path: Path
) -> None:
    broker, partitions, total, users = kafka_runtime, 6, 6000, 1499
    prefix = _new_app(broker, partitions)
    workers = _start(3, broker, prefix, tmp_path, KR_STANDBYS="1")
    try:
        wait_for(
            lambda: (
                _owned(workers) == _all_tasks(partitions)
                and all(w.running_tasks() for w in workers)
            ),
            60,
            workers,
            "three workers to share all tasks",
        )
        _co_located(workers)
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions, users)
        wait_for(lambda: complete(broker, prefix, total // 2, users), 60, workers, "the first half")
        time.sleep(1.0)  # standbys tail the changelogs continuously; let them catch up
        victim = workers[2]
        victim_tasks = [t for t in victim.running_tasks() or [] if t.startswith("1_")]
        before = [len(w.restored_counts()) for w in workers[:2]]
        victim.stop(signal.SIGKILL)
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions, users)
        survivors = workers[:2]
        wait_for(
            lambda: complete(broker, prefix, total, users),
            90,
            survivors,
            "the survivors to finish every input",
        )
        assert _owned(survivors) == _all_tasks(partitions)
        _check_aggregates(broker, prefix, total, users)
        # The victim's stateful tasks were promoted from standbys: only the tail restored.
        took_over = sum(w.output().count("takes over the stores of its standby") for w in survivors)
        assert took_over >= len(victim_tasks), [w.output()[-2000:] for w in survivors]
        after = [n for w, b in zip(survivors, before) for n in w.restored_counts()[b:]]
        changelog = len(run(read_all(broker, f"{prefix}-per-user-changelog")))
        print(
            f"\nstandby failover: {took_over} tasks promoted, restored {sum(after)} of "
            f"{changelog} changelog records"
        )
        assert changelog > 1000, changelog  # a full restore would be large
        assert sum(after) < changelog // 20, (after, changelog)
    finally:
        _stop_all(workers)


def test_group_instance_id_reaches_the_kafka_consumer() -> None:
    """Static membership is the broker's protocol; our part is to pass the id through."""
    from streamz_kit.transport.kafka import KafkaTransport

    consumer = KafkaTransport("127.0.0.1:1", group_instance_id="w-1").consumer(group_id="g")
    assert consumer._kwargs["group_instance_id"] == "w-1"
    assert consumer._kwargs["group_id"] == "g"


def test_static_member_restart_gets_its_partitions_back(kafka_runtime: str, tmp_path: Path) -> None:
    broker, partitions, total = kafka_runtime, 4, 2000
    prefix = _new_app(broker, partitions)
    workers = [
        Worker(
            "seq_app.py",
            broker,
            _env(broker, prefix, tmp_path / f"state{i}", KR_INSTANCE_ID=f"{prefix}-w{i}"),
            tmp_path / f"w{i}.log",
        )
        for i in range(2)
    ]
    try:
        wait_for(
            lambda: (
                _owned(workers) == _all_tasks(partitions)
                and all(w.running_tasks() for w in workers)
            ),
            60,
            workers,
            "assignment",
        )
        produce_events(broker, f"{prefix}-events", 0, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total // 2), 60, workers, "the first half")
        mine = workers[1].running_tasks()
        revokes_before = workers[0].output().count("Revoked")
        assert workers[1].stop(signal.SIGTERM) == 0
        workers[1] = Worker(
            "seq_app.py",
            broker,
            _env(broker, prefix, tmp_path / "state1", KR_INSTANCE_ID=f"{prefix}-w1"),
            tmp_path / "w1-restarted.log",
        )
        wait_for(lambda: workers[1].running_tasks() is not None, 30, workers, "the rejoin")
        assert workers[1].running_tasks() == mine
        # Its state directory survived: the stores restore only the tail (nothing here).
        assert sum(workers[1].restored_counts()) == 0, workers[1].output()
        produce_events(broker, f"{prefix}-events", total // 2, total // 2, partitions)
        wait_for(lambda: complete(broker, prefix, total), 60, workers, "every input")
        _check_aggregates(broker, prefix, total)
        # Kafka hands the returning static member its old assignment without a rebalance:
        # the other worker's tasks never stopped (not even suspended and resumed).
        assert workers[0].running_tasks() == [t for t in _all_tasks(partitions) if t not in mine]
        assert workers[0].output().count("Revoked") == revokes_before, workers[0].output()
    finally:
        _stop_all(workers)


def test_missing_input_topic_is_a_clear_error(kafka_runtime: str, tmp_path: Path) -> None:
    prefix = f"kr{uuid.uuid4().hex[:8]}"
    worker = Worker(
        "seq_app.py", kafka_runtime, _env(kafka_runtime, prefix, tmp_path / "s"), tmp_path / "w.log"
    )
    code = worker.proc.wait(60)
    out = worker.output()
    assert code != 0
    assert f"{prefix}-events" in out and "do not exist" in out, out
    assert "Traceback" not in out, out


def test_unreachable_broker_is_a_clear_error_within_the_timeout(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = f"kafka://127.0.0.1:{port}"
    started = time.monotonic()
    worker = Worker(
        "seq_app.py",
        broker,
        _env(broker, "krdown", tmp_path / "s", KR_CONNECT_TIMEOUT="3"),
        tmp_path / "w.log",
    )
    code = worker.proc.wait(30)
    elapsed = time.monotonic() - started
    out = worker.output()
    assert code != 0 and elapsed < 20, (code, elapsed)
    assert "Cannot reach Kafka" in out and f"127.0.0.1:{port}" in out, out
    assert re.search(r"retrying in", out), out
    assert "Traceback" not in out, out


def test_recommendations_example_on_kafka_with_two_workers(
    kafka_runtime: str, tmp_path: Path
) -> None:
    from examples.recommendations import domain
    from examples.recommendations.generator import ActionSource, produce_actions
    from examples.recommendations.pipeline import CATALOGUE_SEED

    broker, count, users = kafka_runtime, 3000, 300
    app = str(Path(__file__).resolve().parents[2] / "examples" / "recommendations" / "app.py")
    run(produce_actions(broker, count=0, rate=0, partitions=4))  # creates the topics
    source = ActionSource(domain.make_catalogue(CATALOGUE_SEED), users=users, seed=3)
    actions = [source.next_action(0) for _ in range(count)]
    want = {a["user"] for a in actions if domain.is_valid_action(a)}
    workers = [
        Worker(
            app,
            broker,
            {"KR_STATE_DIR": str(tmp_path / f"state{i}")},
            tmp_path / f"r{i}.log",
            (
                "--processing-guarantee",
                "at_least_once",
                "--commit-interval-ms",
                "200",
                "--http-port",
                "0",
            ),
        )
        for i in range(2)
    ]

    def users_with_recommendations() -> set[str]:
        return {k.decode() for k, _ in run(read_all(broker, "recommendations")) if k}

    try:

        def shared_by_both() -> bool:
            owned = _owned(workers)
            subs = {t.split("_")[0] for t in owned}  # however many sub-topologies it has
            every = sorted(f"{s}_{p}" for s in subs for p in range(4))
            return owned == every and all(w.running_tasks() for w in workers)

        wait_for(shared_by_both, 60, workers, "both workers to run tasks")
        _co_located(workers)
        run(produce_actions(broker, count=count, rate=0, users=users, seed=3, partitions=4))
        wait_for(
            lambda: users_with_recommendations() == want,
            90,
            workers,
            "recommendations for every user",
        )
    finally:
        _stop_all(workers)
