"""Foreign-key table-table joins (KIP-213): what `KTable.join(other, joiner, foreign_key=fn)`
and `left_join(...)` build, node for node and name for name as Kafka Streams' KTableImpl
(doJoinOnForeignKey) does:

    left table ─► SUBSCRIPTION-REGISTRATION (send) ─► <app>-KTABLE-FK-JOIN-SUBSCRIPTION-
        REGISTRATION-<n>-topic, keyed by foreign key, co-partitioned with the right table
    ─► SUBSCRIPTION-PROCESSOR (receive, subscription store) ─► SUBSCRIPTION-PROCESSOR (join
        with the right table's value)                      ┐
    right table ─► SUBSCRIPTION-PROCESSOR (prefix scan of ─┴► <app>-KTABLE-FK-JOIN-
        the subscription store)                               SUBSCRIPTION-RESPONSE-<n>-topic,
                                                              back to the left row's partition
    ─► SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR (hash check, joiner) ─► FK-JOIN-OUTPUT (table)

The result is a KTable keyed by the left table's key, made by the constructor the grammar
(KTable.join) passes in: this module never imports the grammar (dsl/shapes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from streamz_kit.dsl.checks import check_function
from streamz_kit.dsl.joins import table_store
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.shapes import TableShape
from streamz_kit.dsl.store_factory import resolve_serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.fk_join import (
    ForeignTableJoinNode,
    ResponseJoinNode,
    SubscriptionJoinNode,
    SubscriptionReceiveNode,
    SubscriptionSendNode,
)
from streamz_kit.processor.fk_wrappers import ResponseWrapperSerde, SubscriptionWrapperSerde
from streamz_kit.processor.io import SinkNode
from streamz_kit.processor.table import TableSourceNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode, RepartitionTopic

__all__ = ["join_on_foreign_key"]

PREFIX = "KTABLE-FK-JOIN-"


class _Result(Protocol):
    """The join's KTable: materialized at once, or once a downstream operation asks it for
    old values (then under `pending_store`)."""

    store_name: str | None
    pending_store: str | None

    def materialize(self, store_name: str) -> None: ...


T = TypeVar("T", bound=_Result)


def _response_partition(topic: str, key: Any, response: Any, num_partitions: int) -> int | None:
    """Responses go back to the partition of the left row that subscribed."""
    partition: int = response.primary_partition
    return partition if 0 <= partition < num_partitions else None


def join_on_foreign_key(
    left: TableShape,
    right: TableShape,
    joiner: Callable[[Any, Any], Any],
    foreign_key: Callable[[Any], Any],
    *,
    left_join: bool,
    result: Callable[[str, Materialized, str | None, frozenset[str]], T],
    materialized: Materialized | None = None,
    name: str | None = None,
) -> T:
    """Add the nodes, topics and stores of the join; `result(node, materialized, store_name,
    sources)` makes the KTable returned (the grammar's constructor)."""
    if right.builder is not left.builder:
        raise TopologyError("Both tables of a join must come from the same StreamsBuilder.")
    check_function(joiner, "joiner(left_value, right_value)")
    check_function(foreign_key, "foreign_key(value)")
    graph = left.graph
    # Old values tell the send node which subscription to retract when a row's foreign key
    # changes; the right side's are Kafka's optimization, enabled alike.
    right.enable_send_old_values()
    left.enable_send_old_values()

    def named(suffix: str, prefix: str) -> str:
        return f"{name}{suffix}" if name else graph.new_name(prefix)

    registration = named("-subscription-registration", PREFIX + "SUBSCRIPTION-REGISTRATION")
    registration_topic = f"{registration}-topic"
    serde_topic = registration_topic  # the pseudo-topic our serdes see for internal bytes
    pk_serde, left_vs = resolve_serdes(left.key_serde, left.value_serde)
    fk_serde, right_vs = resolve_serdes(right.key_serde, right.value_serde)
    subscription_serde = SubscriptionWrapperSerde(pk_serde)
    response_serde = ResponseWrapperSerde(right_vs)
    graph.repartition_topics[registration_topic] = RepartitionTopic(registration_topic)

    send = named("-subscription-registration-processor", PREFIX + "SUBSCRIPTION-REGISTRATION")
    graph.add_node(
        GraphNode(
            send,
            lambda: SubscriptionSendNode(
                send,
                foreign_key=foreign_key,
                foreign_key_serde=fk_serde,
                value_serde=left_vs,
                left_join=left_join,
                serde_topic=serde_topic,
            ),
            [left.node],
        )
    )
    sink = named("-subscription-registration-sink", "KTABLE-SINK")
    graph.add_node(
        GraphNode(
            sink,
            lambda: SinkNode(sink, registration_topic, fk_serde, subscription_serde, internal=True),
            [send],
            kind="sink",
            sink_topic=registration_topic,
            internal=True,
        )
    )
    source = named("-subscription-registration-source", "KTABLE-SOURCE")
    left.builder.add_source(
        [registration_topic], fk_serde, subscription_serde, internal=True, name=source
    )
    graph.copartition_groups.append(set(right.sources) | {source})

    store = named("-subscription-store", PREFIX + "SUBSCRIPTION-STATE-STORE")
    receive = named("-subscription-receive", PREFIX + "SUBSCRIPTION-PROCESSOR")
    graph.add_node(
        GraphNode(
            receive,
            lambda: SubscriptionReceiveNode(receive, store, fk_serde, pk_serde, serde_topic),
            [source],
        )
    )
    graph.add_store(
        StoreBuilder(store, "timestamped_kv", "rocksdb", BYTES, subscription_serde), receive
    )

    right_store, right_node = table_store(right)
    join_foreign = named("-subscription-join-foreign", PREFIX + "SUBSCRIPTION-PROCESSOR")
    graph.add_node(
        GraphNode(join_foreign, lambda: SubscriptionJoinNode(join_foreign, right_store), [receive])
    )
    graph.connect_store(right_store, join_foreign)

    foreign_join = named("-foreign-join-subscription", PREFIX + "SUBSCRIPTION-PROCESSOR")
    graph.add_node(
        GraphNode(
            foreign_join,
            lambda: ForeignTableJoinNode(foreign_join, store, fk_serde, pk_serde, serde_topic),
            [right_node],
        )
    )
    graph.connect_store(store, foreign_join)

    response = named("-subscription-response", PREFIX + "SUBSCRIPTION-RESPONSE")
    response_topic = f"{response}-topic"
    graph.repartition_topics[response_topic] = RepartitionTopic(response_topic)
    response_sink = named("-subscription-response-sink", "KTABLE-SINK")
    graph.add_node(
        GraphNode(
            response_sink,
            lambda: SinkNode(
                response_sink,
                response_topic,
                pk_serde,
                response_serde,
                partitioner=_response_partition,
                internal=True,
            ),
            [join_foreign, foreign_join],
            kind="sink",
            sink_topic=response_topic,
            internal=True,
        )
    )
    response_source = named("-subscription-response-source", "KTABLE-SOURCE")
    left.builder.add_source(
        [response_topic], pk_serde, response_serde, internal=True, name=response_source
    )
    sources = left.sources | {response_source}
    graph.copartition_groups.append(set(sources))

    resolver = named(
        "-subscription-response-resolver", PREFIX + "SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR"
    )
    output = named("-result", PREFIX + "OUTPUT")
    mat = materialized or Materialized()
    store_name = mat.name or graph.new_name(PREFIX + "OUTPUT-STATE-STORE")
    table = result(output, mat, store_name if materialized is not None else None, sources)
    left_store, _ = table_store(left)
    graph.add_node(
        GraphNode(
            resolver,
            lambda: ResponseJoinNode(
                resolver,
                left_store,
                value_serde=left_vs,
                joiner=joiner,
                left_join=left_join,
                serde_topic=serde_topic,
            ),
            [response_source],
        )
    )
    graph.connect_store(left_store, resolver)
    graph.add_node(GraphNode(output, lambda: TableSourceNode(output, table.store_name), [resolver]))
    if materialized is not None:
        table.materialize(store_name)
    else:
        table.pending_store = store_name
    return table
