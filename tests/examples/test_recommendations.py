"""The recommendations example: domain functions, the topology against a plain-Python
reference model, and the generator / worker / viewer loop on a real embedded broker."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from examples.recommendations import domain, pipeline, schemas
from examples.recommendations.demo import percentile
from examples.recommendations.generator import ActionSource, produce_actions
from examples.recommendations.viewer import tail
from examples.recommendations.workers import make_worker
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver

CATALOGUE = domain.make_catalogue(pipeline.CATALOGUE_SEED)


def action(
    item: str, kind: str, ts: int = 1, user: str = "u1", category: str | None = None
) -> dict[str, Any]:
    cat = category if category is not None else CATALOGUE.items[item].category
    return {"user": user, "item": item, "category": cat, "kind": kind, "ts": ts}


def small_catalogue() -> domain.Catalogue:
    items = {
        "a1": domain.Item("a1", "a", 1.0),
        "a2": domain.Item("a2", "a", 0.5),
        "a3": domain.Item("a3", "a", 0.5),
        "b1": domain.Item("b1", "b", 0.8),
        "b2": domain.Item("b2", "b", 0.1),
        "c1": domain.Item("c1", "c", 0.9),
    }
    by_cat = {"a": ("a1", "a2", "a3"), "b": ("b1", "b2"), "c": ("c1",)}
    return domain.Catalogue(items=items, by_category=by_cat)


# -- catalogue ------------------------------------------------------------------------------
def test_catalogue_is_a_pure_function_of_its_seed() -> None:
    again = domain.make_catalogue(pipeline.CATALOGUE_SEED)
    assert again.items == CATALOGUE.items and again.by_category == CATALOGUE.by_category
    assert domain.make_catalogue(8).items != CATALOGUE.items
    pops = [it.popularity for it in CATALOGUE.items.values()]
    assert max(pops) == 1.0 and all(0 < p <= 1 for p in pops)
    # Zipf: the top 10% of items hold far more than 10% of the popularity mass.
    top = sorted(pops, reverse=True)[: len(pops) // 10]
    assert sum(top) / sum(pops) > 0.4
    for category, ids in CATALOGUE.by_category.items():
        assert all(CATALOGUE.items[i].category == category for i in ids)
        keys = [(-CATALOGUE.items[i].popularity, i) for i in ids]
        assert keys == sorted(keys)
    assert sum(len(ids) for ids in CATALOGUE.by_category.values()) == len(CATALOGUE.items)


# -- profiles -------------------------------------------------------------------------------
def test_update_profile_weights_kinds_and_bounds_recent_items() -> None:
    p = domain.new_profile()
    p = domain.update_profile(p, action("x1", "view", 10, category="books"))
    p = domain.update_profile(p, action("x2", "like", 20, category="books"))
    p = domain.update_profile(p, action("x3", "purchase", 15, category="music"))
    p = domain.update_profile(p, action("x4", "skip", 30, category="games"))
    assert p["affinity"] == {"books": 4, "music": 5, "games": -2}
    assert p["purchased"] == ["x3"]
    assert p["counts"] == {"view": 1, "like": 1, "purchase": 1, "skip": 1}
    assert p["actions"] == 4 and p["last_ts"] == 30
    assert p["recent"] == ["x4", "x3", "x2", "x1"]
    for i in range(20):
        p = domain.update_profile(p, action(f"y{i}", "view", 40 + i, category="books"))
    p = domain.update_profile(p, action("y3", "purchase", 99, category="books"))
    assert len(p["recent"]) == domain.RECENT_LIMIT
    assert p["recent"][0] == "y3" and p["recent"].count("y3") == 1
    assert p["purchased"] == ["x3", "y3"]


def test_update_profile_does_not_modify_its_input_and_rejects_unknown_kinds() -> None:
    p = domain.update_profile(domain.new_profile(), action("x1", "like", category="books"))
    snapshot = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in p.items()}
    domain.update_profile(p, action("x2", "purchase", category="books"))
    assert p == snapshot
    with pytest.raises(ValueError, match="Unknown action kind"):
        domain.update_profile(p, action("x1", "wishlist", category="books"))


def test_is_valid_action() -> None:
    assert domain.is_valid_action(action("x", "view", category="c"))
    assert not domain.is_valid_action({"kind": "view"})
    assert not domain.is_valid_action(action("x", "wishlist", category="c"))
    assert not domain.is_valid_action("view")
    assert not domain.is_valid_action(None)


def test_favourite_categories_are_positive_ranked_and_tie_broken_by_name() -> None:
    profile = {"affinity": {"b": 3, "a": 3, "c": 5, "d": -1, "e": 0, "f": 1}}
    assert domain.favourite_categories(profile) == ["c", "a", "b"]
    assert domain.favourite_categories(profile, 10) == ["c", "a", "b", "f"]
    assert domain.favourite_categories(domain.new_profile()) == []


# -- recommend ------------------------------------------------------------------------------
def test_recommend_ranks_by_affinity_times_popularity_with_id_tie_break() -> None:
    cat = small_catalogue()
    profile = domain.new_profile()
    profile["affinity"] = {"a": 2, "b": 2, "c": -1}
    profile["purchased"] = ["a1"]
    rec = domain.recommend("u", profile, cat, n=3)
    # a2 and a3 tie at 2 x 0.5 = 1.0; b1 scores 1.6; c is disliked; a1 was bought.
    assert [i["item"] for i in rec["items"]] == ["b1", "a2", "a3"]
    assert rec["items"][0] == {"item": "b1", "category": "b", "score": 1.6}
    assert rec["categories"] == ["a", "b"] and rec["user"] == "u"
    assert domain.recommend("u", domain.new_profile(), cat)["items"] == []


def brute_force(profile: dict[str, Any], cat: domain.Catalogue, n: int) -> list[str]:
    """Score every item of the catalogue: the obviously-correct, slow recommend."""
    favourites = domain.favourite_categories(profile)
    scored = [
        (-(profile["affinity"][it.category] * it.popularity), it.id)
        for it in cat.items.values()
        if it.category in favourites and it.id not in profile["purchased"]
    ]
    return [item for _, item in sorted(scored)[:n]]


actions_strategy = st.lists(
    st.tuples(st.sampled_from(sorted(CATALOGUE.items)[:60]), st.sampled_from(domain.ACTION_KINDS)),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(actions_strategy, st.integers(min_value=1, max_value=8))
def test_recommendations_are_unbought_top_category_items_at_most_n(
    steps: list[tuple[str, str]], n: int
) -> None:
    profile = domain.new_profile()
    for ts, (item, kind) in enumerate(steps):
        profile = domain.update_profile(profile, action(item, kind, ts))
    rec = domain.recommend("u1", profile, CATALOGUE, n=n)
    items = [i["item"] for i in rec["items"]]
    favourites = domain.favourite_categories(profile)
    assert len(items) <= n and len(set(items)) == len(items)
    assert not set(items) & set(profile["purchased"])
    assert all(i["category"] in favourites for i in rec["items"])
    assert items == brute_force(profile, CATALOGUE, n)
    # Reference model of the profile: affinities are plain sums of the kinds' weights.
    expected: dict[str, int] = {}
    for item, kind in steps:
        c = CATALOGUE.items[item].category
        expected[c] = expected.get(c, 0) + domain.ACTION_WEIGHTS[kind]
    assert profile["affinity"] == expected
    assert profile["purchased"] == sorted({i for i, k in steps if k == "purchase"})


def test_trends_keep_weighted_counts_and_rank_with_id_tie_break() -> None:
    trend: dict[str, int] = {}
    for item, kind in [
        ("b", "view"),
        ("a", "like"),
        ("c", "purchase"),
        ("b", "view"),
        ("d", "skip"),
    ]:
        trend = domain.update_trend(trend, {"item": item, "kind": kind})
    assert trend == {"a": 2, "b": 2, "c": 4}
    assert domain.top_trending(trend, 2) == [["c", 4], ["a", 2]]


# -- generator ------------------------------------------------------------------------------
def test_action_source_is_seeded_valid_and_skewed() -> None:
    one = ActionSource(CATALOGUE, users=200, seed=3)
    two = ActionSource(CATALOGUE, users=200, seed=3)
    a = [one.next_action(i) for i in range(3000)]
    assert a == [two.next_action(i) for i in range(3000)]
    assert all(domain.is_valid_action(x) for x in a)
    assert all(CATALOGUE.items[x["item"]].category == x["category"] for x in a)
    per_user: dict[str, int] = {}
    for x in a:
        per_user[x["user"]] = per_user.get(x["user"], 0) + 1
    counts = sorted(per_user.values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]  # a few users are very active
    kinds = {k: sum(1 for x in a if x["kind"] == k) for k in domain.ACTION_KINDS}
    assert kinds["view"] > kinds["like"] > kinds["purchase"] > 0 and kinds["skip"] > 0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) == 0
    assert percentile([5], 99) == 5
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile(values, 100) == 100


# -- the topology through the test driver ----------------------------------------------------
def test_topology_has_two_subtopologies_joined_by_a_repartition_topic() -> None:
    topology = pipeline.build_topology()
    text = topology.describe()
    assert "Sub-topology: 0" in text and "Sub-topology: 1" in text
    assert "category-trends-repartition" in text
    assert "stores: [user-profiles]" in text and "stores: [category-trends]" in text
    assert "(topic: recommendations)" in text and "(topic: trending)" in text
    assert "flowchart" in topology.to_mermaid()


def test_topology_matches_a_plain_python_reference_model() -> None:
    source = ActionSource(CATALOGUE, users=40, seed=11)
    inputs: list[tuple[str, Any]] = []
    for i in range(400):
        a = source.next_action(1_000 + i)
        inputs.append((a["user"], a))
        if i % 50 == 0:  # malformed records are dropped, not fatal
            inputs.append((a["user"], {"kind": "teleport", "item": 3}))
    inputs.append(("u-null", None))

    profiles: dict[str, Any] = {}
    expected_recs: list[tuple[str, Any]] = []
    trends: dict[str, dict[str, int]] = {}
    for user, a in inputs:
        if not domain.is_valid_action(a):
            continue
        profiles[user] = domain.update_profile(profiles.get(user, domain.new_profile()), a)
        expected_recs.append((user, domain.recommend(user, profiles[user], CATALOGUE)))
        trends[a["category"]] = domain.update_trend(trends.get(a["category"], {}), a)

    with TopologyTestDriver(pipeline.build_topology()) as driver:
        inp = driver.create_input_topic(
            pipeline.INPUT_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON
        )
        recs = driver.create_output_topic(pipeline.OUTPUT_TOPIC)
        trending = driver.create_output_topic(pipeline.TRENDS_TOPIC)
        for ts, (user, a) in enumerate(inputs):
            inp.pipe_input(user, a, timestamp_ms=1_000 + ts)
        records = recs.read_records_to_list()
        assert [(r.key, r.value) for r in records] == expected_recs
        assert all(r.timestamp_ms >= r.value["as_of"] for r in records)
        store = driver.get_key_value_store(pipeline.PROFILE_STORE)
        assert {u: store.get(u) for u in profiles} == profiles
        assert store.get("u-null") is None
        latest_trend = dict(trending.read_key_values_to_list())
        assert latest_trend == {c: domain.top_trending(t) for c, t in trends.items()}
        trend_store = driver.get_key_value_store(pipeline.TRENDS_STORE)
        assert {c: trend_store.get(c) for c in trends} == trends


# -- generator, worker and viewer on an embedded broker ------------------------------------
def test_generator_worker_and_viewer_on_the_embedded_broker(tmp_path: Path) -> None:
    """The demo's parts end to end: every user's last recommendation reflects all of that
    user's actions, and the worker's profile store equals the reference model. Actions and
    recommendations are Avro through the broker's embedded registry, and the actions' schema
    evolves (a new optional field) while the worker runs."""
    broker = f"embedded://{tmp_path / 'broker'}"
    registry = schemas.registry_for(broker)
    recs_avro = schemas.recommendation_serde(registry)

    async def scenario() -> None:
        await produce_actions(broker, count=0)  # creates the topics
        worker = make_worker("auto", broker, str(tmp_path / "state"), registry)
        await worker.start()
        try:
            written = await produce_actions(
                broker, count=300, rate=0, users=50, seed=5, registry=registry
            )
            written += await produce_actions(
                broker, count=300, rate=0, users=50, seed=6, evolve_after=0, registry=registry
            )
            assert written == 600
            assert registry.get_versions(f"{pipeline.INPUT_TOPIC}-value") == [1, 2]
            actions: list[Any] = []
            reader = schemas.action_serde(registry)  # v2 reads v1 and v2 records
            await tail(
                broker,
                pipeline.INPUT_TOPIC,
                lambda r: actions.append(reader.deserialize("", r.value)),
                from_beginning=True,
                max_records=600,
                idle_timeout=5,
            )
            assert len(actions) == 600
            assert sum(a["device"] is None for a in actions) == 300
            reference: dict[str, Any] = {}
            for a in actions:
                reference[a["user"]] = domain.update_profile(
                    reference.get(a["user"], domain.new_profile()), a
                )

            latest: dict[str, Any] = {}
            raw: list[bytes] = []
            done = asyncio.Event()

            def see(record: Any) -> None:
                latest[serdes.STRING.deserialize("", record.key)] = recs_avro.deserialize(
                    "", record.value
                )
                raw.append(record.value)
                if all(
                    latest.get(u, {}).get("actions") == p["actions"] for u, p in reference.items()
                ):
                    done.set()

            await asyncio.wait_for(
                tail(broker, pipeline.OUTPUT_TOPIC, see, from_beginning=True, stop=done),
                timeout=20,
            )
            for user, profile in reference.items():
                assert latest[user] == domain.recommend(user, profile, CATALOGUE)
                assert worker.profile(user) == profile
            confluent_reads(broker, raw[-1], recs_avro.deserialize("", raw[-1]))
        finally:
            await worker.stop()

    asyncio.run(scenario())


def confluent_reads(broker: str, data: bytes, expected: Any) -> None:
    """confluent-kafka's AvroDeserializer, through `streamz-kit registry`'s REST API on the
    broker's log, decodes a recommendation to what our serde decoded."""
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from streamz_kit.schemas.registry import embedded_registry
    from streamz_kit.schemas.server import RegistryServer

    with RegistryServer(embedded_registry(broker.split("://", 1)[1]), port=0) as server:
        theirs = AvroDeserializer(SchemaRegistryClient({"url": server.url}))
        ctx = SerializationContext(pipeline.OUTPUT_TOPIC, MessageField.VALUE)
        assert theirs(data, ctx) == expected


def test_demo_runs_end_to_end_and_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    from examples.recommendations import demo

    assert demo.main(["--seconds", "1.5", "--rate", "400", "--users", "60"]) == 0
    out = capsys.readouterr().out
    assert "summary:" in out and "recommendations seen" in out and "p99" in out
    summary = out.split("summary: ")[1]
    produced = int(summary.split(" actions produced")[0])
    seen = int(summary.split("produced, ")[1].split(" recommendations")[0])
    assert 0 < seen <= produced  # the record cache may merge updates of one user
    if produced > 300:  # the generator moved to UserAction v2 after 400/s * 1.5 s / 2
        assert "user-actions-value versions [1, 2]" in out


def test_windowed_trends_match_a_reference_over_hopping_windows() -> None:
    """The windowed variant: per category and 1-minute window (hop 10 s), the top items."""
    from collections import defaultdict

    from examples.recommendations import domain as dom
    from examples.recommendations import pipeline as pl
    from streamz_kit.testing import TopologyTestDriver

    actions = [
        ("u1", {"kind": "view", "item": "item-0001", "category": "books"}, 1_000),
        ("u2", {"kind": "purchase", "item": "item-0002", "category": "books"}, 15_000),
        ("u1", {"kind": "like", "item": "item-0001", "category": "books"}, 65_000),
        ("u3", {"kind": "view", "item": "item-0003", "category": "toys"}, 70_000),
    ]
    topology = pl.build_topology(with_trends=False)
    with TopologyTestDriver(topology) as driver:
        inp = driver.create_input_topic(pl.INPUT_TOPIC)
        for user, action, ts in actions:
            action["ts"] = ts
            assert dom.is_valid_action(action)
            inp.pipe_input(user, action, timestamp_ms=ts)
        out = driver.create_output_topic(pl.WINDOWED_TRENDS_TOPIC)
        latest = dict(out.read_key_values_to_list())
    reference: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for _, action, ts in actions:
        for window in pl.TREND_WINDOW.windows_for(ts):
            key = (action["category"], window.start)
            reference[key] = dom.update_trend(reference[key], action)
    assert set(latest) == {f"{c}@{s}" for c, s in reference}
    for (category, start), trend in reference.items():
        got = latest[f"{category}@{start}"]
        assert got["window_end"] == start + 60_000
        assert got["top"] == dom.top_trending(trend)


def test_latest_recommendation_per_user_is_queryable_from_its_store() -> None:
    """The `user-recommendations` table (served over HTTP) holds each user's latest list."""
    from examples.recommendations import pipeline as pl
    from streamz_kit.testing import TopologyTestDriver

    with TopologyTestDriver(
        pl.build_topology(with_trends=False, with_windowed_trends=False)
    ) as driver:
        inp = driver.create_input_topic(pl.INPUT_TOPIC)
        for i, kind in enumerate(["view", "like", "purchase"]):
            inp.pipe_input(
                "u1",
                {"kind": kind, "item": "item-0001", "category": "books", "ts": 1000 + i},
                timestamp_ms=1000 + i,
            )
        out = driver.create_output_topic(pl.OUTPUT_TOPIC).read_key_values_to_list()
        store = driver.get_key_value_store(pl.RECOMMENDATION_STORE)
        assert [k for k, _ in out] == ["u1"] * 3
        assert store.get("u1") == out[-1][1]
        assert store.get("nobody") is None


def test_live_catalogue_moves_affinity_through_the_foreign_key_join() -> None:
    """The catalogue is a table the worker reads while it runs: moving an item to another
    category moves every interacting user's weight there, and the next recommendation ranks
    categories accordingly; moving it back takes the correction away."""
    from examples.recommendations import pipeline as pl

    item = CATALOGUE.by_category["books"][0]
    other = CATALOGUE.by_category["garden"][0]
    with TopologyTestDriver(
        pl.build_topology(with_trends=False, with_windowed_trends=False)
    ) as driver:
        catalogue = driver.create_input_topic(pl.CATALOGUE_TOPIC)
        inp = driver.create_input_topic(pl.INPUT_TOPIC)
        recs = driver.create_output_topic(pl.OUTPUT_TOPIC)
        for item_id in (item, other):
            catalogue.pipe_input(
                item_id, domain.catalogue_entry(CATALOGUE.items[item_id]), timestamp_ms=0
            )
        for ts in (1, 2, 3):
            inp.pipe_input("u1", action(item, "like", ts=ts), timestamp_ms=ts)
        inp.pipe_input("u2", action(other, "view", ts=4, user="u2"), timestamp_ms=4)
        corrections = driver.get_key_value_store(pl.CORRECTION_STORE)
        assert corrections.get("u1") == {}  # the catalogue agrees with the actions
        assert recs.read_records_to_list()[-2].value["categories"] == ["books"]

        catalogue.pipe_input(item, {"category": "toys", "popularity": 0.5}, timestamp_ms=5)
        assert corrections.get("u1") == {"books": -9, "toys": 9}
        assert corrections.get("u2") == {}  # never touched the moved item
        assert recs.is_empty()  # a catalogue change alone recommends nothing
        inp.pipe_input("u1", action(other, "view", ts=6), timestamp_ms=6)
        profile = driver.get_key_value_store(pl.PROFILE_STORE).get("u1")
        corrected = {**profile, "affinity": {"books": 0, "toys": 9, "garden": 1}}
        got = recs.read_records_to_list()
        assert [r.value for r in got] == [domain.recommend("u1", corrected, CATALOGUE)]
        assert got[0].value["categories"] == ["toys", "garden"]

        catalogue.pipe_input(item, domain.catalogue_entry(CATALOGUE.items[item]), timestamp_ms=7)
        assert corrections.get("u1") == {}
