"""The compiled topology: what `StreamsBuilder.build()` returns and tasks are made from."""

from __future__ import annotations

from typing import Any

from streamz_kit.processor.node import Node
from streamz_kit.topology.compiler import SubTopology, split_subtopologies
from streamz_kit.topology.describe import describe, to_mermaid
from streamz_kit.topology.graph import LogicalGraph


class Topology:
    """Immutable description of the processing graph, split into sub-topologies."""

    def __init__(self, graph: LogicalGraph) -> None:
        self.graph = graph
        self.subtopologies: list[SubTopology] = split_subtopologies(graph)

    def describe(self) -> str:
        """Kafka Streams' text form: sub-topologies, sources, processors, stores, sinks."""
        return describe(self)

    def to_mermaid(self) -> str:
        """A Mermaid flowchart of the same graph."""
        return to_mermaid(self)

    def __str__(self) -> str:
        return self.describe()

    # -- what the runtime needs -------------------------------------------------------
    @property
    def repartition_topics(self) -> list[str]:
        return list(self.graph.repartition_topics)

    @property
    def store_names(self) -> list[str]:
        return list(self.graph.store_builders)

    @property
    def global_store_names(self) -> list[str]:
        return list(self.graph.global_stores)

    def store_builder(self, name: str) -> Any:
        return self.graph.store_builders[name]

    @property
    def user_source_topics(self) -> list[str]:
        """Input topics the user provides (not repartition topics), including global ones."""
        out: list[str] = []
        for node in self.graph.nodes.values():
            if node.kind == "source" and not node.internal:
                out.extend(t for t in node.topics if t not in out)
        return out

    @property
    def user_sink_topics(self) -> list[str]:
        out: list[str] = []
        for node in self.graph.nodes.values():
            topic = node.sink_topic
            if node.kind == "sink" and not node.internal and topic is not None and topic not in out:
                out.append(topic)
        return out

    def subtopology_for_topic(self, topic: str) -> SubTopology | None:
        for sub in self.subtopologies:
            if topic in sub.source_topics:
                return sub
        return None

    def instantiate(self, node_names: list[str]) -> dict[str, Node]:
        """Stage 3: fresh runtime nodes for one task, children linked and forward bound."""
        nodes = {name: self.graph.nodes[name].factory() for name in node_names}
        for name in node_names:
            for parent in self.graph.nodes[name].parents:
                if parent in nodes:
                    nodes[parent].children.append(nodes[name])
        for node in nodes.values():
            node.wire()
        return nodes
