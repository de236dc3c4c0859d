"""Repartition topics of the DSL: `<base>-repartition`, written by a sink and read back by a
source, so the records after it are partitioned by their current key.

`KStream.repartition()`, groupings, joins and `to_table()` after a key change all come here
(through `KStream._through_repartition`, which wraps the source in the KStream returned).
"""

from __future__ import annotations

from typing import Any

from streamz_kit.dsl.shapes import StreamShape
from streamz_kit.dsl.store_factory import DEFAULT_KEY_SERDE, DEFAULT_VALUE_SERDE
from streamz_kit.errors import TopologyError
from streamz_kit.processor.io import SinkNode
from streamz_kit.topology.graph import GraphNode, RepartitionTopic
from streamz_kit.topology.nullkeys import null_key_filter

__all__ = ["add_repartition"]


def add_repartition(
    stream: StreamShape,
    base: str,
    key_serde: Any,
    value_serde: Any,
    num_partitions: int | None = None,
    *,
    implicit: bool = False,
    key_filter: bool = True,
) -> RepartitionTopic:
    """Add the sink and source of `<base>-repartition` after `stream`'s node; returns the
    topic's record (its `source` is the node to read on from). `implicit`: made by a
    grouping, join or to_table (the optimizer may merge it with others); `key_filter`: the
    KIP-962 null-key filter in front of the sink (KTable re-groupings have none)."""
    graph = stream.graph
    if num_partitions is not None and num_partitions < 1:
        raise TopologyError("repartition num_partitions must be at least 1.")
    topic = f"{base}-repartition"
    if topic in graph.repartition_topics:
        raise TopologyError(
            f"Repartition topic {topic!r} is already used; give this operation another name."
        )
    ks = key_serde or DEFAULT_KEY_SERDE
    vs = value_serde or DEFAULT_VALUE_SERDE
    # Kafka names the sink, then the null-key filter, then the source (KIP-962): the
    # filter drops null keys unless a left/outer join downstream wants them, which
    # topology/nullkeys.py decides once the whole graph is known.
    sink_name = graph.new_name("KSTREAM-SINK")
    entry = sink_name
    if key_filter:
        entry = graph.new_name("KSTREAM-FILTER")
        graph.add_node(null_key_filter(entry, stream.node))
    graph.add_node(
        GraphNode(
            sink_name,
            lambda: SinkNode(sink_name, topic, ks, vs, internal=True),
            [entry if key_filter else stream.node],
            kind="sink",
            sink_topic=topic,
            internal=True,
        )
    )
    source = stream.builder.add_source([topic], ks, vs, internal=True)
    record = RepartitionTopic(
        topic,
        num_partitions,
        mergeable=implicit,
        entry=entry,
        sink=sink_name,
        source=source,
        key_serde=ks,
        value_serde=vs,
    )
    graph.repartition_topics[topic] = record
    return record
