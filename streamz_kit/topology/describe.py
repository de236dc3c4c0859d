"""Text and Mermaid renderings of a compiled topology, in the shape of Kafka Streams'."""

from __future__ import annotations

from typing import Protocol

from streamz_kit.topology.compiler import SubTopology
from streamz_kit.topology.graph import GraphNode, LogicalGraph


class Topology(Protocol):
    """What a rendering reads of a compiled topology (its graph and its sub-topologies)."""

    @property
    def graph(self) -> LogicalGraph: ...

    @property
    def subtopologies(self) -> list[SubTopology]: ...


def _node_lines(topology: Topology, node: GraphNode) -> list[str]:
    graph = topology.graph
    children = graph.children_of(node.name)
    if node.kind == "source":
        head = f"    Source: {node.name} (topics: [{', '.join(node.topics)}])"
    elif node.kind == "sink":
        target = (
            f"topic: {node.sink_topic}"
            if node.sink_topic is not None
            else "topic extractor: function"
        )
        head = f"    Sink: {node.name} ({target})"
    else:
        head = f"    Processor: {node.name} (stores: [{', '.join(node.stores)}])"
    lines = [head]
    if node.kind != "sink":
        lines.append(f"      --> {', '.join(children) if children else 'none'}")
    if node.parents:
        lines.append(f"      <-- {', '.join(node.parents)}")
    return lines


def describe(topology: Topology) -> str:
    graph = topology.graph
    out = ["Topologies:"]
    blocks: list[tuple[int, str, list[GraphNode]]] = []
    for sub in topology.subtopologies:
        blocks.append((sub.id, "", [graph.nodes[n] for n in sub.nodes]))
    next_id = len(topology.subtopologies)
    for g in graph.global_stores.values():
        nodes = [graph.nodes[g.source_node], graph.nodes[g.processor_node]]
        blocks.append((next_id, " for global store (will not generate tasks)", nodes))
        next_id += 1
    for index, (sub_id, suffix, nodes) in enumerate(blocks):
        out.append(f"   Sub-topology: {sub_id}{suffix}")
        ordered = [n for n in nodes if n.kind == "source"] + [
            n for n in nodes if n.kind != "source"
        ]
        for node in ordered:
            out.extend(_node_lines(topology, node))
        if index != len(blocks) - 1:
            out.append("")
    return "\n".join(out) + "\n"


def _mermaid_id(name: str) -> str:
    return name.replace("-", "_").replace(".", "_")


def to_mermaid(topology: Topology) -> str:
    graph = topology.graph
    lines = ["flowchart TD"]
    topics: set[str] = set()
    for sub in topology.subtopologies:
        lines.append(f'  subgraph sub{sub.id}["Sub-topology {sub.id}"]')
        for name in sub.nodes:
            node = graph.nodes[name]
            shape = f'{_mermaid_id(name)}["{name}"]'
            lines.append(f"    {shape}")
        lines.append("  end")
    for node in graph.nodes.values():
        for parent in node.parents:
            lines.append(f"  {_mermaid_id(parent)} --> {_mermaid_id(node.name)}")
        if node.kind == "source":
            for topic in node.topics:
                topics.add(topic)
                lines.append(f"  t_{_mermaid_id(topic)} --> {_mermaid_id(node.name)}")
        if node.kind == "sink" and node.sink_topic is not None:
            topics.add(node.sink_topic)
            lines.append(f"  {_mermaid_id(node.name)} --> t_{_mermaid_id(node.sink_topic)}")
        for store in node.stores:
            lines.append(f"  {_mermaid_id(node.name)} -.- s_{_mermaid_id(store)}")
    for topic in sorted(topics):
        lines.append(f'  t_{_mermaid_id(topic)}[/"{topic}"/]')
    for store in graph.store_builders:
        lines.append(f'  s_{_mermaid_id(store)}[("{store}")]')
    return "\n".join(lines) + "\n"
