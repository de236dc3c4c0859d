"""Null keys in front of repartition topics (KIP-962, Kafka Streams 3.7+).

Every stream repartition topic has a filter in front of its sink. By default it drops
records with a null key: no stateful operation downstream could use them, so they are not
written (silently: Kafka counts no dropped record for them). But a left or outer join
downstream does want them (a null-key record of the left side is joined with null), so a
repartition topic that has such a join anywhere downstream lets null keys through; they
land in partition 0 (Kafka's partitioner for a null key picks one too) and the join emits
them. Whether a filter is relaxed depends on the whole graph, so it is decided by
`relax_null_key_filters` when the topology is built, as Kafka's InternalStreamsBuilder
does in `rewriteRepartitionNodes` (always, whatever the optimization setting).
"""

from __future__ import annotations

from typing import Any

from streamz_kit.processor.stateless import FilterNode
from streamz_kit.topology.graph import GraphNode, LogicalGraph

__all__ = ["NULL_KEY_FILTER", "NULL_KEY_RELAXED_JOIN", "null_key_filter", "relax_null_key_filters"]

NULL_KEY_FILTER = "null-key-filter"
NULL_KEY_RELAXED_JOIN = "null-key-relaxed-join"  # left/outer joins that keep null keys
_RELAXED = "null-key-filter-relaxed"


def _key_not_null(key: Any, value: Any) -> bool:
    return key is not None


def _keep_all(key: Any, value: Any) -> bool:
    return True


def null_key_filter(name: str, parent: str) -> GraphNode:
    """The filter node in front of a repartition sink; the predicate is chosen at task
    creation from the label `relax_null_key_filters` may have added."""
    node = GraphNode(name, lambda: FilterNode(name, _key_not_null, False), [parent])
    node.labels.add(NULL_KEY_FILTER)

    def make() -> FilterNode:
        relaxed = _RELAXED in node.labels
        return FilterNode(node.name, _keep_all if relaxed else _key_not_null, False)

    node.factory = make
    return node


def relax_null_key_filters(graph: LogicalGraph) -> list[str]:
    """Relax every null-key filter with a NULL_KEY_RELAXED_JOIN node downstream (through
    repartition topics too); returns the relaxed filters' names."""
    children: dict[str, list[str]] = {}
    for node in graph.nodes.values():
        for parent in node.parents:
            children.setdefault(parent, []).append(node.name)
    for node in graph.nodes.values():
        if node.kind == "sink" and node.internal and node.sink_topic in graph.source_topics:
            children.setdefault(node.name, []).append(graph.source_topics[node.sink_topic])
    memo: dict[str, bool] = {}

    def reaches_relaxed_join(start: str) -> bool:
        # Iterative depth-first search with memoisation: graphs can be deep.
        stack = [start]
        seen: set[str] = set()
        found = False
        while stack and not found:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            for child in children.get(name, ()):
                if memo.get(child) or NULL_KEY_RELAXED_JOIN in graph.nodes[child].labels:
                    found = True
                    break
                stack.append(child)
        memo[start] = found
        return found

    relaxed = []
    for node in graph.nodes.values():
        node.labels.discard(_RELAXED)
        if NULL_KEY_FILTER in node.labels and reaches_relaxed_join(node.name):
            node.labels.add(_RELAXED)
            relaxed.append(node.name)
    return relaxed
