"""describe() and to_mermaid(): a golden description of a topology with four sub-topologies."""

from __future__ import annotations

import re

import streamz_kit as sk
from streamz_kit import serdes


def build_orders() -> sk.Topology:
    """Branches, a stream re-keying into a count, and a table re-grouping into a count."""
    builder = sk.StreamsBuilder()
    orders = builder.stream("orders", key_serde=serdes.STRING, value_serde=serdes.JSON)
    branches = (
        orders.split(name="orders-")
        .branch(lambda k, v: v["amount"] > 100, name="big")
        .default_branch(name="small")
    )
    branches["orders-big"].to("big-orders")
    branches["orders-small"].group_by(lambda k, v: v["customer"]).count(
        materialized=sk.Materialized("orders-per-customer")
    ).to_stream().to("customer-counts", value_serde=serdes.LONG)
    builder.table("customers", materialized=sk.Materialized("customers")).group_by(
        lambda k, v: (v["country"], k)
    ).count(materialized=sk.Materialized("customers-per-country")).to_stream().to(
        "country-counts", value_serde=serdes.LONG
    )
    return builder.build()


GOLDEN = """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [orders])
      --> KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCH-0000000001 (stores: [])
      --> KSTREAM-BRANCHCHILD-0000000002, KSTREAM-BRANCHCHILD-0000000003
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-BRANCHCHILD-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-BRANCH-0000000001
    Processor: KSTREAM-BRANCHCHILD-0000000003 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000005
      <-- KSTREAM-BRANCH-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: big-orders)
      <-- KSTREAM-BRANCHCHILD-0000000002
    Processor: KSTREAM-KEY-SELECT-0000000005 (stores: [])
      --> KSTREAM-FILTER-0000000008
      <-- KSTREAM-BRANCHCHILD-0000000003
    Processor: KSTREAM-FILTER-0000000008 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-KEY-SELECT-0000000005
    Sink: KSTREAM-SINK-0000000007 (topic: orders-per-customer-repartition)
      <-- KSTREAM-FILTER-0000000008

   Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000009 (topics: [orders-per-customer-repartition])
      --> KSTREAM-AGGREGATE-0000000006
    Processor: KSTREAM-AGGREGATE-0000000006 (stores: [orders-per-customer])
      --> KTABLE-TOSTREAM-0000000010
      <-- KSTREAM-SOURCE-0000000009
    Processor: KTABLE-TOSTREAM-0000000010 (stores: [])
      --> KSTREAM-SINK-0000000011
      <-- KSTREAM-AGGREGATE-0000000006
    Sink: KSTREAM-SINK-0000000011 (topic: customer-counts)
      <-- KTABLE-TOSTREAM-0000000010

   Sub-topology: 2
    Source: KSTREAM-SOURCE-0000000012 (topics: [customers])
      --> KTABLE-SOURCE-0000000013
    Processor: KTABLE-SOURCE-0000000013 (stores: [customers])
      --> KTABLE-SELECT-0000000014
      <-- KSTREAM-SOURCE-0000000012
    Processor: KTABLE-SELECT-0000000014 (stores: [])
      --> KSTREAM-SINK-0000000016
      <-- KTABLE-SOURCE-0000000013
    Sink: KSTREAM-SINK-0000000016 (topic: customers-per-country-repartition)
      <-- KTABLE-SELECT-0000000014

   Sub-topology: 3
    Source: KSTREAM-SOURCE-0000000017 (topics: [customers-per-country-repartition])
      --> KTABLE-AGGREGATE-0000000015
    Processor: KTABLE-AGGREGATE-0000000015 (stores: [customers-per-country])
      --> KTABLE-TOSTREAM-0000000018
      <-- KSTREAM-SOURCE-0000000017
    Processor: KTABLE-TOSTREAM-0000000018 (stores: [])
      --> KSTREAM-SINK-0000000019
      <-- KTABLE-AGGREGATE-0000000015
    Sink: KSTREAM-SINK-0000000019 (topic: country-counts)
      <-- KTABLE-TOSTREAM-0000000018
"""


def test_describe_golden() -> None:
    topology = build_orders()
    assert topology.describe() == GOLDEN
    assert str(topology) == GOLDEN


def test_describe_and_topology_metadata_agree() -> None:
    topology = build_orders()
    assert topology.repartition_topics == [
        "orders-per-customer-repartition",
        "customers-per-country-repartition",
    ]
    assert topology.store_names == ["orders-per-customer", "customers", "customers-per-country"]
    assert topology.user_source_topics == ["orders", "customers"]
    assert topology.user_sink_topics == ["big-orders", "customer-counts", "country-counts"]
    assert [s.source_topics for s in topology.subtopologies] == [
        ["orders"],
        ["orders-per-customer-repartition"],
        ["customers"],
        ["customers-per-country-repartition"],
    ]
    assert [s.stores for s in topology.subtopologies] == [
        [],
        ["orders-per-customer"],
        ["customers"],
        ["customers-per-country"],
    ]


def test_named_operations_appear_in_describe() -> None:
    builder = sk.StreamsBuilder()
    builder.stream("in").filter(lambda k, v: True, name="keep-all").map_values(
        lambda v: v, name="same"
    ).to("out", name="write-out")
    assert builder.build().describe() == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [in])\n"
        "      --> keep-all\n"
        "    Processor: keep-all (stores: [])\n"
        "      --> same\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: same (stores: [])\n"
        "      --> write-out\n"
        "      <-- keep-all\n"
        "    Sink: write-out (topic: out)\n"
        "      <-- same\n"
    )


def test_foreach_is_a_leaf_processor() -> None:
    builder = sk.StreamsBuilder()
    builder.stream("in").foreach(print)
    assert "Processor: KSTREAM-FOREACH-0000000001 (stores: [])\n      --> none\n" in (
        builder.build().describe()
    )


def test_to_mermaid_structure() -> None:
    topology = build_orders()
    text = topology.to_mermaid()
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    # One subgraph per sub-topology, each closed.
    subgraphs = [line for line in lines if line.strip().startswith("subgraph ")]
    assert subgraphs == [f'  subgraph sub{i}["Sub-topology {i}"]' for i in range(4)]
    assert sum(1 for line in lines if line.strip() == "end") == 4
    # Every node of the description is drawn, every parent edge is there.
    described = set(re.findall(r"(?:Source|Processor|Sink): (\S+)", topology.describe()))
    drawn = set(re.findall(r'^    (\S+)\["([^"]+)"\]$', text, re.MULTILINE))
    assert {label for _, label in drawn} == described
    assert "  KSTREAM_BRANCH_0000000001 --> KSTREAM_BRANCHCHILD_0000000003" in lines
    # Topics and stores are drawn with their own shapes and linked.
    assert '  t_orders[/"orders"/]' in lines
    assert "  t_orders --> KSTREAM_SOURCE_0000000000" in lines
    assert "  KSTREAM_SINK_0000000007 --> t_orders_per_customer_repartition" in lines
    assert '  s_customers_per_country[("customers-per-country")]' in lines
    assert "  KTABLE_AGGREGATE_0000000015 -.- s_customers_per_country" in lines
    # Mermaid ids carry no characters Mermaid would choke on.
    for line in lines[1:]:
        ident = line.strip().split("[")[0].split(" ")[0]
        assert re.fullmatch(r"[A-Za-z0-9_]+|end", ident), line
