"""Source-topic reuse (topology optimization): a table read from a topic has no changelog;
after its state directory is lost it is rebuilt from the topic itself, up to the committed
offset, and records produced while the App was down are processed, not restored.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import orjson

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.transport import connect
from tests.runtime.e2e import app_ready, read_all
from tests.runtime.test_versioned_app import produce


def topology(optimize: bool = True) -> sk.Topology:
    builder = sk.StreamsBuilder(optimize=optimize)
    users = builder.table(
        "users",
        key_serde=serdes.STRING,
        value_serde=serdes.JSON,
        materialized=sk.Materialized("users"),
    )
    users.to_stream().map_values(lambda v: v and v["name"]).to(
        "names", key_serde=serdes.STRING, value_serde=serdes.JSON
    )
    return builder.build()


def test_table_restores_from_its_source_topic_without_a_changelog(tmp_path: Path) -> None:
    broker = f"embedded://{tmp_path / 'log'}"
    state = tmp_path / "state"
    topology_ = topology()
    assert topology_.graph.source_changelogs == {"users": "users"}
    assert not topology(optimize=False).graph.source_changelogs

    def app() -> sk.App:
        return sk.App(
            topology_, application_id="reuse", broker=broker, state_dir=state, commit_interval_ms=20
        )

    def table(a: sk.App) -> dict[str, Any]:
        return dict(a.store("users").all())

    first_rows = [(f"u{i}", {"name": f"n{i}"}, 100 + i) for i in range(20)]
    first_rows += [("u3", None, 200), ("u4", {"name": "renamed"}, 201)]
    later_rows = [("u5", {"name": "later"}, 300), ("u6", None, 301)]

    async def go() -> tuple[dict[str, Any], dict[str, Any], int, list[str]]:
        await produce(broker, "users", first_rows)
        one = app()
        await one.start()
        await app_ready(one, lambda: table(one).get("u4") == {"name": "renamed"}, "first rows")
        before = table(one)
        await one.stop()
        shutil.rmtree(state)  # lose the local state: the source topic must rebuild it
        await produce(broker, "users", later_rows)  # while down: to process, not restore

        two = app()
        await two.start()
        await app_ready(two, lambda: table(two).get("u5") == {"name": "later"}, "later rows")
        after = table(two)
        restored = two.metrics()["restored_records"]
        await two.stop()
        transport = connect(broker)
        await transport.start()
        try:
            topics = await transport.admin().list_topics()
        finally:
            await transport.close()
        return before, after, restored, topics

    before, after, restored, topics = asyncio.run(go())
    assert not any(t.endswith("-changelog") for t in topics), topics
    assert restored == len(first_rows)  # up to the committed offset, nothing after it
    expected = {f"u{i}": {"name": f"n{i}"} for i in range(20) if i != 3}
    expected["u4"] = {"name": "renamed"}
    assert before == expected
    expected["u5"] = {"name": "later"}
    del expected["u6"]
    assert after == expected
    last: dict[str, Any] = {}
    for k, v in asyncio.run(read_all(broker, "names")):
        last[k.decode()] = None if v is None else orjson.loads(v)
    # Downstream saw every key's final value, including the rows produced while down.
    assert {k: v for k, v in last.items() if v is not None} == {
        k: v["name"] for k, v in after.items()
    }
    assert last["u6"] is None
