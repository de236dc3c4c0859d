"""Stream aggregations: group_by_key / group_by with count, reduce and aggregate."""

from __future__ import annotations

from typing import Any

import streamz_kit as sk
from streamz_kit import serdes


def out_records(out: Any) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()]


def test_count_by_key_emits_every_update(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    counts = builder.stream("in").group_by_key().count(materialized=sk.Materialized("counts"))
    counts.to_stream().to("out", value_serde=serdes.LONG)
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", "x", timestamp_ms=10)
    inp.pipe_input("b", "y", timestamp_ms=20)
    inp.pipe_input("a", "z", timestamp_ms=30)
    inp.pipe_input("a", "w", timestamp_ms=15)  # out of order: the aggregate keeps the max time
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    assert out_records(out) == [("a", 1, 10), ("b", 1, 20), ("a", 2, 30), ("a", 3, 30)]
    store = driver.get_key_value_store("counts")
    assert store.get("a") == 3
    assert store.get("b") == 1
    assert store.get("missing") is None
    assert list(store.all()) == [("a", 3), ("b", 1)]
    assert store.approximate_num_entries() >= 2  # RocksDB estimates; overwrites may count
    assert queryable(counts) == "counts"


def queryable(table: sk.KTable) -> Any:
    return table.queryable_store_name


def test_count_drops_null_keys_and_values(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").group_by_key().count(
        materialized=sk.Materialized("c", store="memory")
    ).to_stream().to("out", value_serde=serdes.LONG)
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input(None, 1)
    inp.pipe_input("a", None)
    inp.pipe_input("a", 1)
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    assert out.read_key_values_to_list() == [("a", 1)]
    assert dict(driver.get_key_value_store("c").all()) == {"a": 1}


def test_reduce_combines_values(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").group_by_key().reduce(
        lambda agg, v: agg + v, materialized=sk.Materialized("sums")
    ).to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", 1, timestamp_ms=5)
    inp.pipe_input("a", 2, timestamp_ms=4)
    inp.pipe_input("b", 10, timestamp_ms=6)
    inp.pipe_input("a", 4, timestamp_ms=7)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", 1, 5),
        ("a", 3, 5),
        ("b", 10, 6),
        ("a", 7, 7),
    ]
    assert dict(driver.get_key_value_store("sums").all()) == {"a": 7, "b": 10}


def test_reduce_argument_order_is_agg_then_value(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").group_by_key().reduce(lambda agg, v: f"{agg}|{v}").to_stream().to("out")
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_key_value_list([("k", "a"), ("k", "b"), ("k", "c")])
    assert driver.create_output_topic("out").read_values_to_list() == ["a", "a|b", "a|b|c"]


def test_aggregate_with_initializer(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    def aggregator(key: str, value: int, agg: dict[str, Any]) -> dict[str, Any]:
        seen.append((key, value, dict(agg)))
        return {"n": agg["n"] + 1, "total": agg["total"] + value}

    builder.stream("in").group_by_key().aggregate(
        lambda: {"n": 0, "total": 0}, aggregator, materialized=sk.Materialized("agg")
    ).to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", 3, timestamp_ms=1)
    inp.pipe_input("a", 4, timestamp_ms=2)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", {"n": 1, "total": 3}, 1),
        ("a", {"n": 2, "total": 7}, 2),
    ]
    assert seen == [("a", 3, {"n": 0, "total": 0}), ("a", 4, {"n": 1, "total": 3})]


def test_group_by_rekeys_through_repartition_topic(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    words = builder.stream("lines").flat_map_values(lambda line: line.lower().split())
    counts = words.group_by(lambda k, word: word).count(materialized=sk.Materialized("wc"))
    counts.to_stream().to("word-counts", value_serde=serdes.LONG)
    topology = builder.build()
    assert topology.repartition_topics == ["wc-repartition"]
    assert len(topology.subtopologies) == 2
    driver = make_driver(topology)
    inp = driver.create_input_topic("lines")
    inp.pipe_input(None, "the cat", timestamp_ms=1)
    inp.pipe_input("x", "The dog", timestamp_ms=2)
    out = driver.create_output_topic("word-counts", value_serde=serdes.LONG)
    assert out_records(out) == [("the", 1, 1), ("cat", 1, 1), ("the", 2, 2), ("dog", 1, 2)]
    assert dict(driver.get_key_value_store("wc").all()) == {"cat": 1, "dog": 1, "the": 2}


def test_group_by_drops_null_new_keys(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").group_by(lambda k, v: v.get("user")).count(
        materialized=sk.Materialized("per-user")
    )
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("1", {"user": "ann"})
    inp.pipe_input("2", {})
    inp.pipe_input("3", {"user": "ann"})
    assert dict(driver.get_key_value_store("per-user").all()) == {"ann": 2}


def test_group_by_key_after_map_repartitions(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    """A key-changing operation before group_by_key inserts a repartition topic."""
    builder.stream("in").map(lambda k, v: (v["g"], v["x"])).group_by_key(
        value_serde=serdes.LONG
    ).reduce(lambda a, b: max(a, b), materialized=sk.Materialized("max")).to_stream().to(
        "out", value_serde=serdes.LONG
    )
    topology = builder.build()
    assert topology.repartition_topics == ["max-repartition"]
    driver = make_driver(topology)
    inp = driver.create_input_topic("in")
    for x, g in [(5, "a"), (2, "a"), (9, "b"), (7, "a")]:
        inp.pipe_input("k", {"g": g, "x": x})
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    assert out.read_key_values_to_list() == [("a", 5), ("a", 5), ("b", 9), ("a", 7)]


def test_group_by_key_without_key_change_does_not_repartition(builder: sk.StreamsBuilder) -> None:
    builder.stream("in").map_values(lambda v: v).filter(lambda k, v: True).group_by_key().count()
    topology = builder.build()
    assert topology.repartition_topics == []
    assert len(topology.subtopologies) == 1


def test_unnamed_aggregations_get_generated_store_names(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").group_by(lambda k, v: v).count()
    topology = builder.build()
    assert topology.store_names == ["KSTREAM-AGGREGATE-STATE-STORE-0000000003"]
    assert topology.repartition_topics == ["KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition"]
    driver = make_driver(topology)
    driver.create_input_topic("in").pipe_key_value_list([("a", "x"), ("b", "x")])
    store = driver.get_key_value_store("KSTREAM-AGGREGATE-STATE-STORE-0000000003")
    assert store.get("x") == 2


def test_to_table_upserts_and_deletes(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").to_table(materialized=sk.Materialized("latest")).to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", 1, timestamp_ms=1)
    inp.pipe_input("a", 2, timestamp_ms=2)
    inp.pipe_input("b", 3, timestamp_ms=3)
    inp.pipe_input("a", None, timestamp_ms=4)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", 1, 1),
        ("a", 2, 2),
        ("b", 3, 3),
        ("a", None, 4),
    ]
    assert dict(driver.get_key_value_store("latest").all()) == {"b": 3}


def test_to_table_after_key_change_repartitions(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.stream("in").select_key(lambda k, v: v["id"]).to_table(
        materialized=sk.Materialized("by-id")
    )
    topology = builder.build()
    assert len(topology.repartition_topics) == 1
    driver = make_driver(topology)
    inp = driver.create_input_topic("in")
    inp.pipe_input("x", {"id": "u1", "n": 1})
    inp.pipe_input("y", {"id": "u1", "n": 2})
    assert dict(driver.get_key_value_store("by-id").all()) == {"u1": {"id": "u1", "n": 2}}


def test_memory_and_rocksdb_stores_agree(make_driver: Any) -> None:
    results = []
    for kind in ("memory", "rocksdb"):
        builder = sk.StreamsBuilder()
        builder.stream("in").group_by_key().count(materialized=sk.Materialized("c", store=kind))
        driver = make_driver(builder)
        driver.create_input_topic("in").pipe_key_value_list(
            [("b", 1), ("a", 1), ("b", 1), ("c", 1)]
        )
        results.append(list(driver.get_key_value_store("c").all()))
    assert results[0] == results[1] == [("a", 1), ("b", 2), ("c", 1)]


def test_serdes_flow_from_grouping_to_the_sink(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    """A count's table is LONG-valued and keeps the grouping's key serde, so `to()` without
    serdes writes LONG keys and values (as Kafka Streams uses the upstream serdes)."""
    builder.stream("in").group_by(
        lambda k, v: v["n"], key_serde=serdes.LONG
    ).count().to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("in")
    inp.pipe_input("a", {"n": 7})
    inp.pipe_input("b", {"n": 7})
    out = driver.create_output_topic("out", key_serde=serdes.LONG, value_serde=serdes.LONG)
    assert out.read_key_values_to_list() == [(7, 1), (7, 2)]


def test_aggregate_materialized_serdes(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.stream("in").group_by_key().aggregate(
        lambda: 0.0,
        lambda k, v, agg: agg + v,
        materialized=sk.Materialized("f", value_serde=serdes.FLOAT),
    ).to_stream().to("out")
    driver = make_driver(builder)
    driver.create_input_topic("in").pipe_key_value_list([("a", 0.5), ("a", 1.25)])
    out = driver.create_output_topic("out", value_serde=serdes.FLOAT)
    assert out.read_key_values_to_list() == [("a", 0.5), ("a", 1.75)]
    assert driver.get_key_value_store("f").get("a") == 1.75
