"""KTables: builder.table, filter / filter_not / map_values / to_stream, and table re-grouping
with adder and subtractor, with Kafka Streams' tombstone behaviour."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes


def out_records(out: Any) -> list[tuple[Any, Any, int]]:
    return [(r.key, r.value, r.timestamp_ms) for r in out.read_records_to_list()]


def test_table_source_upserts_and_tombstones(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    table = builder.table("users", materialized=sk.Materialized("users-store"))
    table.to_stream().to("out")
    assert table.queryable_store_name == "users-store"
    driver = make_driver(builder)
    inp = driver.create_input_topic("users")
    inp.pipe_input("u1", {"name": "ann"}, timestamp_ms=1)
    inp.pipe_input("u2", {"name": "bob"}, timestamp_ms=2)
    inp.pipe_input("u1", {"name": "ann2"}, timestamp_ms=3)
    inp.pipe_input("u2", None, timestamp_ms=4)
    assert out_records(driver.create_output_topic("out")) == [
        ("u1", {"name": "ann"}, 1),
        ("u2", {"name": "bob"}, 2),
        ("u1", {"name": "ann2"}, 3),
        ("u2", None, 4),
    ]
    store = driver.get_key_value_store("users-store")
    assert dict(store.all()) == {"u1": {"name": "ann2"}}
    assert store.get("u2") is None


def test_table_default_store_name(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    table = builder.table("t")
    assert table.queryable_store_name == "t-STATE-STORE-0000000001"
    driver = make_driver(builder)
    driver.create_input_topic("t").pipe_input("k", 1)
    assert driver.get_key_value_store("t-STATE-STORE-0000000001").get("k") == 1


def test_table_null_key_is_dropped(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.table("t", materialized=sk.Materialized("s")).to_stream().to("out")
    driver = make_driver(builder)
    driver.create_input_topic("t").pipe_input(None, 1)
    assert driver.create_output_topic("out").is_empty()
    assert dict(driver.get_key_value_store("s").all()) == {}


def test_table_filter_forwards_tombstones_for_rejected_rows(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    """Kafka's KTable filter (old values not needed) sends (key, null) for a rejected row,
    so a downstream consumer deletes a row that no longer qualifies."""
    builder.table("t").filter(lambda k, v: v > 1).to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", 1, timestamp_ms=1)
    inp.pipe_input("a", 5, timestamp_ms=2)
    inp.pipe_input("b", 7, timestamp_ms=3)
    inp.pipe_input("a", 0, timestamp_ms=4)
    inp.pipe_input("b", None, timestamp_ms=5)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", None, 1),
        ("a", 5, 2),
        ("b", 7, 3),
        ("a", None, 4),
        ("b", None, 5),
    ]


def test_table_filter_not_and_materialized_filter(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    table = builder.table("t")
    # Uncached, as in Kafka Streams with caching disabled, the rejected row's tombstone is
    # forwarded even though "xa" was never in the filter's store.
    kept = table.filter_not(
        lambda k, v: k.startswith("x"), materialized=sk.Materialized("kept", caching=False)
    )
    kept.to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", 1)
    inp.pipe_input("xa", 2)
    inp.pipe_input("b", 3)
    inp.pipe_input("a", None)
    assert driver.create_output_topic("out").read_key_values_to_list() == [
        ("a", 1),
        ("xa", None),
        ("b", 3),
        ("a", None),
    ]
    assert dict(driver.get_key_value_store("kept").all()) == {"b": 3}


def test_table_map_values_keeps_tombstones(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    calls: list[Any] = []

    def mapper(v: Any) -> Any:
        calls.append(v)
        return v["n"] * 2

    builder.table("t").map_values(mapper, materialized=sk.Materialized("doubled")).to_stream().to(
        "out"
    )
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", {"n": 1}, timestamp_ms=1)
    inp.pipe_input("a", {"n": 4}, timestamp_ms=2)
    inp.pipe_input("a", None, timestamp_ms=3)
    assert out_records(driver.create_output_topic("out")) == [
        ("a", 2, 1),
        ("a", 8, 2),
        ("a", None, 3),
    ]
    assert calls == [{"n": 1}, {"n": 4}]  # the mapper never sees a tombstone
    assert dict(driver.get_key_value_store("doubled").all()) == {}


def _regions(builder: sk.StreamsBuilder) -> Any:
    return builder.table("accounts").group_by(lambda user, acct: (acct["region"], acct["amount"]))


def _pipe_accounts(driver: Any) -> None:
    inp = driver.create_input_topic("accounts")
    inp.pipe_input("u1", {"region": "eu", "amount": 10}, timestamp_ms=100)
    inp.pipe_input("u2", {"region": "eu", "amount": 5}, timestamp_ms=200)
    inp.pipe_input("u1", {"region": "us", "amount": 10}, timestamp_ms=150)  # moves eu -> us
    inp.pipe_input("u2", {"region": "eu", "amount": 7}, timestamp_ms=300)  # same group
    inp.pipe_input("u1", None, timestamp_ms=400)  # delete: subtract from us


def test_table_group_by_reduce_moves_values_between_groups(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    totals = _regions(builder).reduce(
        lambda agg, v: agg + v, lambda agg, v: agg - v, materialized=sk.Materialized("totals")
    )
    totals.to_stream().to("out")
    topology = builder.build()
    assert topology.repartition_topics == ["totals-repartition"]
    assert len(topology.subtopologies) == 2
    driver = make_driver(topology)
    _pipe_accounts(driver)
    assert out_records(driver.create_output_topic("out")) == [
        ("eu", 10, 100),
        ("eu", 15, 200),
        ("eu", 5, 200),  # u1 leaves eu first (the subtraction keeps the group's max time)
        ("us", 10, 150),
        ("eu", 7, 300),  # same group: one update, subtract then add
        ("us", 0, 400),
    ]
    assert dict(driver.get_key_value_store("totals").all()) == {"eu": 7, "us": 0}


def test_table_group_by_count(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    _regions(builder).count(materialized=sk.Materialized("n")).to_stream().to(
        "out", value_serde=serdes.LONG
    )
    driver = make_driver(builder)
    _pipe_accounts(driver)
    out = driver.create_output_topic("out", value_serde=serdes.LONG)
    assert out.read_key_values_to_list() == [
        ("eu", 1),
        ("eu", 2),
        ("eu", 1),
        ("us", 1),
        ("eu", 1),  # u2 changes within eu: subtract and add in one update
        ("us", 0),
    ]
    assert dict(driver.get_key_value_store("n").all()) == {"eu": 1, "us": 0}


def test_table_group_by_aggregate_with_subtractor(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.table("accounts").group_by(lambda user, acct: (acct["region"], user)).aggregate(
        list,
        lambda region, user, members: sorted(members + [user]),
        lambda region, user, members: [m for m in members if m != user],
        materialized=sk.Materialized("members"),
    ).to_stream().to("out")
    driver = make_driver(builder)
    _pipe_accounts(driver)
    assert driver.create_output_topic("out").read_key_values_to_list() == [
        ("eu", ["u1"]),
        ("eu", ["u1", "u2"]),
        ("eu", ["u2"]),
        ("us", ["u1"]),
        ("eu", ["u2"]),
        ("us", []),
    ]
    assert dict(driver.get_key_value_store("members").all()) == {"eu": ["u2"], "us": []}


def test_table_group_by_adder_subtractor_argument_order(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    calls: list[tuple[str, Any, Any, Any]] = []

    def adder(key: Any, value: Any, agg: Any) -> Any:
        calls.append(("add", key, value, agg))
        return agg + value

    def subtractor(key: Any, value: Any, agg: Any) -> Any:
        calls.append(("sub", key, value, agg))
        return agg - value

    builder.table("t").group_by(lambda k, v: ("g", v)).aggregate(lambda: 100, adder, subtractor)
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", 1)
    inp.pipe_input("a", 2)
    assert calls == [("add", "g", 1, 100), ("sub", "g", 1, 101), ("add", "g", 2, 100)]


def test_table_group_by_selector_null_key_is_dropped(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.table("t").group_by(lambda k, v: (v.get("g"), 1)).count(
        materialized=sk.Materialized("c")
    )
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", {"g": "x"})
    inp.pipe_input("b", {})
    inp.pipe_input("a", {})  # moves from x to nowhere: x loses a member
    assert dict(driver.get_key_value_store("c").all()) == {"x": 0}


def test_table_group_by_after_filter_sees_old_values(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    """With old values enabled upstream, a filter drops changes that are rejected on both
    sides and turns a row that stops qualifying into a subtraction."""
    builder.table("t").filter(lambda k, v: v["ok"]).group_by(lambda k, v: (v["g"], v["n"])).reduce(
        lambda a, b: a + b, lambda a, b: a - b, materialized=sk.Materialized("sum")
    )
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", {"ok": True, "g": "x", "n": 5})
    inp.pipe_input("b", {"ok": False, "g": "x", "n": 100})
    inp.pipe_input("b", {"ok": True, "g": "x", "n": 1})
    inp.pipe_input("a", {"ok": False, "g": "x", "n": 5})
    assert dict(driver.get_key_value_store("sum").all()) == {"x": 1}


def test_table_to_stream_then_stream_ops(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.table("t").to_stream().filter(lambda k, v: v is not None).map_values(
        lambda v: v + 1
    ).to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_key_value_list([("a", 1), ("a", None), ("b", 2)])
    assert driver.create_output_topic("out").read_key_values_to_list() == [("a", 2), ("b", 3)]


def test_reading_a_topic_twice_is_refused(builder: sk.StreamsBuilder) -> None:
    builder.stream("t")
    with pytest.raises(sk.TopologyError, match="already read"):
        builder.table("t")


def test_table_map_values_then_group_by_subtracts_mapped_old_value(
    builder: sk.StreamsBuilder, make_driver: Any
) -> None:
    builder.table("t").map_values(lambda v: {"g": v["g"], "n": v["n"] * 10}).group_by(
        lambda k, v: (v["g"], v["n"])
    ).reduce(lambda a, b: a + b, lambda a, b: a - b, materialized=sk.Materialized("sum"))
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", {"g": "x", "n": 1})
    inp.pipe_input("b", {"g": "x", "n": 2})
    inp.pipe_input("a", {"g": "y", "n": 3})
    inp.pipe_input("b", None)
    assert dict(driver.get_key_value_store("sum").all()) == {"x": 0, "y": 30}


def test_table_timestamps_follow_records(builder: sk.StreamsBuilder, make_driver: Any) -> None:
    builder.table("t").map_values(lambda v: v).to_stream().to("out")
    driver = make_driver(builder)
    inp = driver.create_input_topic("t")
    inp.pipe_input("a", 1, timestamp_ms=50, headers=[("h", b"x")])
    inp.pipe_input("a", 2, timestamp_ms=40)
    recs = driver.create_output_topic("out").read_records_to_list()
    assert [(r.key, r.value, r.timestamp_ms, r.headers) for r in recs] == [
        ("a", 1, 50, (("h", b"x"),)),
        ("a", 2, 40, ()),
    ]
