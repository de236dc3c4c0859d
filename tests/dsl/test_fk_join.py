"""Foreign-key table-table joins (KIP-213) through the test driver.

The scenarios and their expected outputs are those of Kafka Streams'
KTableKTableForeignKeyJoinIntegrationTest (run there in the TopologyTestDriver with the
record cache off, hence `caching=False` on the materialized variant), for the inner and the
left join, with and without a materialized result."""

from __future__ import annotations

from typing import Any

import pytest

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.fk_wrappers import ResponseWrapper, ResponseWrapperSerde, value_hash
from streamz_kit.testing import TopologyTestDriver

S = serdes.STRING
CASES = [(lj, mat) for lj in (False, True) for mat in (False, True)]
IDS = [f"{'left' if lj else 'inner'}-{'materialized' if m else 'plain'}" for lj, m in CASES]


def joiner(left: Any, right: Any) -> str:
    return f"({left},{right})"


def fk_of(value: str) -> str | None:
    fk = value.split("|")[1]
    return None if fk == "null" else fk


def topology(left_join: bool, materialized: bool) -> sk.Topology:
    builder = sk.StreamsBuilder()
    left = builder.table("left_table", key_serde=S, value_serde=S)
    right = builder.table("right_table", key_serde=S, value_serde=S)
    mat = sk.Materialized("store", value_serde=S, caching=False) if materialized else None
    join = left.left_join if left_join else left.join
    join(right, joiner, foreign_key=fk_of, materialized=mat).to_stream().to("output", value_serde=S)
    return builder.build()


class Fixture:
    def __init__(self, left_join: bool, materialized: bool) -> None:
        self.driver = TopologyTestDriver(topology(left_join, materialized))
        self.materialized = materialized
        self.left = self.driver.create_input_topic("left_table", value_serde=S)
        self.right = self.driver.create_input_topic("right_table", value_serde=S)
        self.out = self.driver.create_output_topic("output", value_serde=S)

    def output(self) -> dict[str, Any]:
        return self.out.read_key_values_to_map()

    def store(self) -> dict[str, Any] | None:
        if not self.materialized:
            return None
        return dict(self.driver.get_key_value_store("store").all())

    def check_store(self, expected: dict[str, Any]) -> None:
        if self.materialized:
            assert self.store() == expected


@pytest.fixture(params=CASES, ids=IDS)
def fx(request: Any) -> Any:
    fixture = Fixture(*request.param)
    fixture.left_join = request.param[0]  # type: ignore[attr-defined]
    yield fixture
    fixture.driver.close()


def test_join_from_left_then_delete_left_entity(fx: Any) -> None:
    for key, value, ts in (
        ("rhs1", "rhsValue1", 0),
        ("rhs2", "rhsValue2", 1),
        ("rhs3", "rhsValue3", 2),
    ):
        fx.right.pipe_input(key, value, timestamp_ms=ts)
    assert fx.out.read_key_values_to_list() == []
    fx.check_store({})
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=3)
    fx.left.pipe_input("lhs2", "lhsValue2|rhs2", timestamp_ms=4)
    expected = [("lhs1", "(lhsValue1|rhs1,rhsValue1)"), ("lhs2", "(lhsValue2|rhs2,rhsValue2)")]
    records = fx.out.read_records_to_list()
    assert [(r.key, r.value) for r in records] == expected
    assert [r.timestamp_ms for r in records] == [3, 4]  # max(left, right) timestamps
    fx.check_store(dict(expected))
    fx.left.pipe_input("lhs3", "lhsValue3|rhs1", timestamp_ms=5)
    assert fx.out.read_key_values_to_list() == [("lhs3", "(lhsValue3|rhs1,rhsValue1)")]
    fx.left.pipe_input("lhs1", None, timestamp_ms=6)
    assert fx.out.read_key_values_to_list() == [("lhs1", None)]
    fx.check_store({"lhs2": "(lhsValue2|rhs2,rhsValue2)", "lhs3": "(lhsValue3|rhs1,rhsValue1)"})


def test_update_foreign_key_then_revert_back(fx: Any) -> None:
    fx.right.pipe_input("rhs1", "rhsValue1", timestamp_ms=0)
    fx.right.pipe_input("rhs2", "rhsValue2", timestamp_ms=1)
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=3)
    assert fx.out.read_key_values_to_list() == [("lhs1", "(lhsValue1|rhs1,rhsValue1)")]
    fx.left.pipe_input("lhs1", "lhsValue1|rhs2", timestamp_ms=5)
    assert fx.out.read_key_values_to_list() == [("lhs1", "(lhsValue1|rhs2,rhsValue2)")]
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=6)
    assert fx.out.read_key_values_to_list() == [("lhs1", "(lhsValue1|rhs1,rhsValue1)")]


def test_join_from_right_then_delete_right_entity(fx: Any) -> None:
    lj = fx.left_join
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=0)
    fx.left.pipe_input("lhs2", "lhsValue2|rhs2", timestamp_ms=1)
    fx.left.pipe_input("lhs3", "lhsValue3|rhs1", timestamp_ms=2)
    half = {
        "lhs1": "(lhsValue1|rhs1,None)",
        "lhs2": "(lhsValue2|rhs2,None)",
        "lhs3": "(lhsValue3|rhs1,None)",
    }
    assert fx.output() == (half if lj else {})
    fx.right.pipe_input("rhs1", "rhsValue1", timestamp_ms=3)
    joined1 = {"lhs1": "(lhsValue1|rhs1,rhsValue1)", "lhs3": "(lhsValue3|rhs1,rhsValue1)"}
    assert fx.output() == joined1
    fx.check_store({**half, **joined1} if lj else joined1)
    fx.right.pipe_input("rhs2", "rhsValue2", timestamp_ms=4)
    assert fx.output() == {"lhs2": "(lhsValue2|rhs2,rhsValue2)"}
    fx.right.pipe_input("rhs3", "rhsValue3", timestamp_ms=5)  # referenced by no one
    assert fx.output() == {}
    fx.right.pipe_input("rhs1", None, timestamp_ms=6)
    assert fx.output() == {
        "lhs1": "(lhsValue1|rhs1,None)" if lj else None,
        "lhs3": "(lhsValue3|rhs1,None)" if lj else None,
    }
    both = {"lhs2": "(lhsValue2|rhs2,rhsValue2)"}
    fx.check_store({**both, "lhs1": half["lhs1"], "lhs3": half["lhs3"]} if lj else both)


def test_tombstone_when_deleting_non_joining_record(fx: Any) -> None:
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=0)
    assert fx.output() == ({"lhs1": "(lhsValue1|rhs1,None)"} if fx.left_join else {})
    # An inner join cannot know whether the row joined before: the tombstone is unavoidable.
    fx.left.pipe_input("lhs1", None, timestamp_ms=1)
    assert fx.output() == {"lhs1": None}
    fx.check_store({})
    fx.left.pipe_input("lhs1", None, timestamp_ms=2)  # deleting again is idempotent
    assert fx.output() == {}


def test_no_tombstone_when_deleting_a_row_that_never_existed(fx: Any) -> None:
    fx.left.pipe_input("lhs1", None, timestamp_ms=0)
    assert fx.output() == {}
    fx.check_store({})


def test_non_matching_foreign_keys(fx: Any) -> None:
    lj = fx.left_join
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=0)
    assert fx.output() == ({"lhs1": "(lhsValue1|rhs1,None)"} if lj else {})
    fx.left.pipe_input("lhs1", "lhsValue1|rhs2", timestamp_ms=1)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs2,None)" if lj else None}
    fx.left.pipe_input("lhs1", "lhsValue1|rhs3", timestamp_ms=2)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs3,None)" if lj else None}
    fx.right.pipe_input("rhs1", "rhsValue1", timestamp_ms=3)  # no longer referenced
    assert fx.output() == {}
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=4)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}
    fx.left.pipe_input("lhs1", "lhsValue1|rhs2", timestamp_ms=5)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs2,None)" if lj else None}
    fx.check_store({"lhs1": "(lhsValue1|rhs2,None)"} if lj else {})


def test_unsubscribes_the_old_foreign_key(fx: Any) -> None:
    fx.right.pipe_input("rhs1", "rhsValue1", timestamp_ms=0)
    fx.right.pipe_input("rhs2", "rhsValue2", timestamp_ms=1)
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=2)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}
    fx.left.pipe_input("lhs1", "lhsValue1|rhs2", timestamp_ms=3)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs2,rhsValue2)"}
    fx.right.pipe_input("rhs1", "rhsValue1Delta", timestamp_ms=4)  # old FK: no output
    assert fx.output() == {}
    fx.check_store({"lhs1": "(lhsValue1|rhs2,rhsValue2)"})


def test_null_foreign_key(fx: Any) -> None:
    """foreign_key returning None: the inner join emits nothing (a tombstone if the row
    joined before), the left join emits joiner(value, None)."""
    lj = fx.left_join
    fx.right.pipe_input("rhs1", "rhsValue1", timestamp_ms=0)
    fx.left.pipe_input("lhs1", "lhsValue1|null", timestamp_ms=1)
    assert fx.output() == ({"lhs1": "(lhsValue1|null,None)"} if lj else {})
    fx.left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=2)
    assert fx.output() == {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}
    fx.left.pipe_input("lhs1", "lhsValue1b|null", timestamp_ms=3)
    assert fx.output() == {"lhs1": "(lhsValue1b|null,None)" if lj else None}
    fx.right.pipe_input("rhs1", "rhsValue1b", timestamp_ms=4)  # unsubscribed
    assert fx.output() == {}
    fx.left.pipe_input("lhs1", None, timestamp_ms=5)
    assert fx.output() == ({"lhs1": None} if lj else {})


def test_stale_responses_are_dropped_by_the_hash_check() -> None:
    """A response made from an older value of the row (its foreign key changed while the
    response was in flight) is dropped; one made from the current value is joined."""
    with TopologyTestDriver(topology(False, False)) as driver:
        left = driver.create_input_topic("left_table", value_serde=S)
        right = driver.create_input_topic("right_table", value_serde=S)
        out = driver.create_output_topic("output", value_serde=S)
        right.pipe_input("rhs1", "rhsValue1", timestamp_ms=0)
        left.pipe_input("lhs1", "lhsValue1|rhs1", timestamp_ms=1)
        left.pipe_input("lhs1", "lhsValue1|rhs2", timestamp_ms=2)
        assert out.read_key_values_to_list() == [
            ("lhs1", "(lhsValue1|rhs1,rhsValue1)"),
            ("lhs1", None),
        ]
        topic = next(t for t in driver._task_by_topic if "SUBSCRIPTION-RESPONSE" in t)
        responses = driver.create_input_topic(topic, value_serde=ResponseWrapperSerde(S))
        stale = value_hash(b"lhsValue1|rhs1")
        responses.pipe_input("lhs1", ResponseWrapper(stale, "rhsValue1", 0), timestamp_ms=3)
        assert out.read_key_values_to_list() == []
        current = value_hash(b"lhsValue1|rhs2")
        responses.pipe_input("lhs1", ResponseWrapper(current, "late", 0), timestamp_ms=4)
        assert out.read_key_values_to_list() == [("lhs1", "(lhsValue1|rhs2,late)")]


def test_names_subtopologies_and_copartitioning() -> None:
    text = topology(False, True).describe()
    assert "Sub-topology: 1" in text
    assert "(topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic)" in text
    assert "(topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic])" in text
    assert "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008" in text
    assert "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000015" in text
    assert "Processor: KTABLE-FK-JOIN-OUTPUT-0000000016 (stores: [store])" in text
    topo = topology(True, False)
    groups = [sorted(g) for s in topo.subtopologies for g in s.copartition_groups]
    assert ["KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic", "right_table"] in groups
    assert ["KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic", "left_table"] in groups


def test_unmaterialized_result_gets_a_store_when_old_values_are_needed() -> None:
    """A table aggregation over the join result needs old values, as in Kafka."""
    builder = sk.StreamsBuilder()
    orders = builder.table("orders")
    products = builder.table("products")
    enriched = orders.join(
        products, lambda o, p: {**o, "cat": p["cat"]}, foreign_key=lambda o: o["product"]
    )
    enriched.group_by(
        lambda k, v: (v["cat"], v["qty"]), key_serde=S, value_serde=serdes.JSON
    ).reduce(lambda a, v: a + v, lambda a, v: a - v, materialized=sk.Materialized("per-cat"))
    with TopologyTestDriver(builder.build()) as driver:
        o = driver.create_input_topic("orders")
        p = driver.create_input_topic("products")
        p.pipe_input("p1", {"cat": "tools"}, timestamp_ms=0)
        p.pipe_input("p2", {"cat": "toys"}, timestamp_ms=0)
        o.pipe_input("o1", {"product": "p1", "qty": 2}, timestamp_ms=1)
        o.pipe_input("o2", {"product": "p1", "qty": 3}, timestamp_ms=2)
        o.pipe_input("o1", {"product": "p2", "qty": 2}, timestamp_ms=3)
        p.pipe_input("p1", {"cat": "garden"}, timestamp_ms=4)
        store = driver.get_key_value_store("per-cat")
        assert dict(store.all()) == {"tools": 0, "toys": 2, "garden": 3}


def test_rejects_misuse() -> None:
    builder = sk.StreamsBuilder()
    left = builder.table("l")
    with pytest.raises(TopologyError, match="foreign_key"):
        left.join(builder.table("r"), joiner, foreign_key=5)  # type: ignore[arg-type]
    with pytest.raises(TopologyError, match="KTable"):
        left.join(builder.stream("s"), joiner, foreign_key=fk_of)  # type: ignore[arg-type]


def test_out_of_order_versions_of_versioned_tables_are_ignored() -> None:
    """KIP-914: with versioned tables on either side, an out-of-order update (older than the
    latest version) changes no join result, as in Kafka's FK join processors."""
    builder = sk.StreamsBuilder()
    versioned = {"store": "versioned", "history_retention": 60_000, "value_serde": S}
    left = builder.table(
        "left_table", key_serde=S, value_serde=S, materialized=sk.Materialized("l", **versioned)
    )
    right = builder.table(
        "right_table", key_serde=S, value_serde=S, materialized=sk.Materialized("r", **versioned)
    )
    left.join(right, joiner, foreign_key=fk_of).to_stream().to("output", value_serde=S)
    with TopologyTestDriver(builder.build()) as driver:
        lt = driver.create_input_topic("left_table", value_serde=S)
        rt = driver.create_input_topic("right_table", value_serde=S)
        out = driver.create_output_topic("output", value_serde=S)
        rt.pipe_input("rhs1", "r1", timestamp_ms=10)
        lt.pipe_input("lhs1", "v|rhs1", timestamp_ms=10)
        assert out.read_key_values_to_list() == [("lhs1", "(v|rhs1,r1)")]
        rt.pipe_input("rhs1", "r0", timestamp_ms=5)  # older than the latest version
        lt.pipe_input("lhs1", "old|rhs1", timestamp_ms=5)
        assert out.read_key_values_to_list() == []
        rt.pipe_input("rhs1", "r2", timestamp_ms=20)
        assert out.read_key_values_to_list() == [("lhs1", "(v|rhs1,r2)")]


def test_derived_tables_on_both_sides() -> None:
    """An unmaterialized left table (a filter) and right table (map_values): the join
    materializes what it must read, and the filter's retractions flow through."""
    builder = sk.StreamsBuilder()
    left = builder.table("left_table", key_serde=S, value_serde=S).filter(
        lambda k, v: not v.startswith("hidden")
    )
    right = builder.table("right_table", key_serde=S, value_serde=S).map_values(str.upper)
    left.join(right, joiner, foreign_key=fk_of).to_stream().to("output", value_serde=S)
    with TopologyTestDriver(builder.build()) as driver:
        lt = driver.create_input_topic("left_table", value_serde=S)
        rt = driver.create_input_topic("right_table", value_serde=S)
        out = driver.create_output_topic("output", value_serde=S)
        rt.pipe_input("rhs1", "r1", timestamp_ms=0)
        lt.pipe_input("lhs1", "v|rhs1", timestamp_ms=1)
        lt.pipe_input("lhs2", "hidden|rhs1", timestamp_ms=2)
        assert out.read_key_values_to_list() == [("lhs1", "(v|rhs1,R1)")]
        rt.pipe_input("rhs1", "r2", timestamp_ms=3)
        assert out.read_key_values_to_list() == [("lhs1", "(v|rhs1,R2)")]
        lt.pipe_input("lhs1", "hidden|rhs1", timestamp_ms=4)  # filtered out: retracted
        assert out.read_key_values_to_list() == [("lhs1", None)]


def test_chained_foreign_key_joins() -> None:
    """As KTableKTableForeignKeyInnerJoinMultiIntegrationTest: the result of one FK join is
    the left table of the next (it gets the store the second join reads)."""
    builder = sk.StreamsBuilder()
    orders = builder.table("orders")
    products = builder.table("products")
    makers = builder.table("makers")
    enriched = orders.join(
        products, lambda o, p: {**o, "maker": p["maker"]}, foreign_key=lambda o: o["product"]
    )
    enriched.join(
        makers, lambda o, m: {**o, "country": m["country"]}, foreign_key=lambda o: o["maker"]
    ).to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        o = driver.create_input_topic("orders")
        p = driver.create_input_topic("products")
        m = driver.create_input_topic("makers")
        out = driver.create_output_topic("out")
        m.pipe_input("m1", {"country": "NL"}, timestamp_ms=0)
        p.pipe_input("p1", {"maker": "m1"}, timestamp_ms=0)
        o.pipe_input("o1", {"product": "p1"}, timestamp_ms=1)
        assert out.read_key_values_to_list() == [
            ("o1", {"product": "p1", "maker": "m1", "country": "NL"})
        ]
        m.pipe_input("m2", {"country": "PT"}, timestamp_ms=2)
        p.pipe_input("p1", {"maker": "m2"}, timestamp_ms=3)  # moves every p1 order
        assert out.read_key_values_to_list() == [
            ("o1", {"product": "p1", "maker": "m2", "country": "PT"})
        ]
        m.pipe_input("m2", None, timestamp_ms=4)
        assert out.read_key_values_to_list() == [("o1", None)]
