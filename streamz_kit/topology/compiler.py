"""Stage 2 of the compiler: the logical graph becomes sub-topologies.

A sub-topology is a connected group of nodes, where nodes are connected by parent edges and
by sharing a state store. Repartition topics cut the graph because their sink and their
source are separate nodes, so each side lands in its own sub-topology; the tasks of one
sub-topology read partition p of each of its source topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamz_kit.errors import TopologyError
from streamz_kit.topology.graph import GraphNode, LogicalGraph


@dataclass
class SubTopology:
    id: int
    nodes: list[str]
    source_topics: list[str] = field(default_factory=list)  # user and repartition topics
    sink_topics: list[str] = field(default_factory=list)  # fixed topics only
    stores: list[str] = field(default_factory=list)
    internal_sources: list[str] = field(default_factory=list)
    copartition_groups: list[list[str]] = field(default_factory=list)


class _UnionFind:
    def __init__(self, items: list[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def split_subtopologies(graph: LogicalGraph) -> list[SubTopology]:
    """Group nodes into sub-topologies, numbered in the order their first node was added."""
    global_nodes = {
        name for g in graph.global_stores.values() for name in (g.source_node, g.processor_node)
    }
    names = [n for n in graph.nodes if n not in global_nodes]
    uf = _UnionFind(names)
    for node in graph.nodes.values():
        if node.name in global_nodes:
            continue
        for parent in node.parents:
            uf.union(node.name, parent)
    for users in graph.store_users.values():
        local = [u for u in users if u not in global_nodes]
        for other in local[1:]:
            uf.union(local[0], other)

    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(uf.find(name), []).append(name)
    ordered = sorted(groups.values(), key=lambda members: graph.nodes[members[0]].order)

    subtopologies: list[SubTopology] = []
    for index, members in enumerate(ordered):
        members.sort(key=lambda n: graph.nodes[n].order)
        sub = SubTopology(id=index, nodes=members)
        for name in members:
            member: GraphNode = graph.nodes[name]
            if member.kind == "source":
                sub.source_topics.extend(member.topics)
                if member.internal:
                    sub.internal_sources.extend(member.topics)
            elif (
                member.kind == "sink"
                and member.sink_topic is not None
                and member.sink_topic not in sub.sink_topics
            ):
                sub.sink_topics.append(member.sink_topic)
            for store in member.stores:
                if store not in sub.stores:
                    sub.stores.append(store)
        subtopologies.append(sub)
    _attach_copartition_groups(graph, subtopologies)
    return subtopologies


def _attach_copartition_groups(graph: LogicalGraph, subs: list[SubTopology]) -> None:
    """Each join's source topics must be co-partitioned; they must also share a sub-topology."""
    for group in graph.copartition_groups:
        topics: list[str] = []
        owner: SubTopology | None = None
        for source_name in sorted(group, key=lambda n: graph.nodes[n].order):
            node = graph.nodes[source_name]
            sub = next(s for s in subs if source_name in s.nodes)
            if owner is not None and sub is not owner:
                raise TopologyError(
                    f"Sources {sorted(group)} must be co-partitioned for a join but ended "
                    "in different sub-topologies; this is a bug in the topology compiler."
                )
            owner = sub
            topics.extend(t for t in node.topics if t not in topics)
        if owner is not None and len(topics) > 1:
            owner.copartition_groups.append(topics)
