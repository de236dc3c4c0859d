"""The logical graph the DSL builds: named nodes, their parents, stores and topics.

Stage 1 of the compiler (Kafka Streams' InternalStreamsBuilder): each DSL call adds a node
here and nothing runs. Names come from one counter, so the same script always yields the
same names, and therefore the same internal topic names after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamz_kit.errors import TopologyError
from streamz_kit.processor.node import Node


@dataclass
class GraphNode:
    name: str
    factory: Callable[[], Node]
    parents: list[str]
    kind: str = "processor"  # "source" | "processor" | "sink"
    stores: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)  # source topics
    sink_topic: str | None = None  # None with a topic chooser function
    internal: bool = False  # reads or writes a repartition topic
    order: int = 0
    labels: set[str] = field(default_factory=set)  # e.g. topology/nullkeys.py's markers
    windows: Any = None  # a windowed aggregation's windows (suppress() reads the grace)
    # Made by the first join that needs them and reused by the later joins of the same stream
    # or table (dsl/joins.py): the repartition topic the node's records are joined through
    # after a key change, and the (store, node) a join reads a store-less table's rows from.
    join_repartition: str | None = None
    join_store: tuple[str, str] | None = None


@dataclass
class RepartitionTopic:
    name: str  # without the application id prefix
    num_partitions: int | None = None
    # Implicit repartitions (a grouping, join or to_table after a key change) may be merged
    # with others of the same key-changing node by topology/optimize.py; explicit
    # repartition() calls never are. `entry` is the first node after the key change (the
    # null-key filter), `sink` / `source` the two ends of the topic.
    mergeable: bool = False
    entry: str | None = None
    sink: str | None = None
    source: str | None = None
    key_serde: Any = None
    value_serde: Any = None


@dataclass
class GlobalStore:
    store_name: str
    topic: str
    source_node: str
    processor_node: str


class LogicalGraph:
    def __init__(self) -> None:
        self.nodes: dict[str, GraphNode] = {}
        self.store_builders: dict[str, Any] = {}
        self.store_users: dict[str, list[str]] = {}
        self.repartition_topics: dict[str, RepartitionTopic] = {}
        self.global_stores: dict[str, GlobalStore] = {}
        self.copartition_groups: list[set[str]] = []  # node names of sources that must align
        self.source_topics: dict[str, str] = {}  # topic -> source node
        # store -> user topic it restores from instead of a changelog (topology/optimize.py)
        self.source_changelogs: dict[str, str] = {}
        self._counter = 0

    def new_name(self, prefix: str) -> str:
        name = f"{prefix}-{self._counter:010d}"
        self._counter += 1
        return name

    def add_node(self, node: GraphNode, *, name_given: bool = False) -> GraphNode:
        if node.name in self.nodes:
            raise TopologyError(
                f"A processor named {node.name!r} already exists in this topology; "
                "give each named operation a unique name."
            )
        for parent in node.parents:
            if parent not in self.nodes:
                raise TopologyError(f"Unknown parent node {parent!r} for {node.name!r}.")
        node.order = len(self.nodes)
        self.nodes[node.name] = node
        if node.kind == "source":
            for topic in node.topics:
                if topic in self.source_topics:
                    raise TopologyError(
                        f"Topic {topic!r} is already read by source "
                        f"{self.source_topics[topic]!r}; read a topic once with "
                        "builder.stream() or builder.table() and reuse the stream."
                    )
                self.source_topics[topic] = node.name
        return node

    def add_store(self, builder: Any, *users: str) -> None:
        name = builder.name
        if name in self.store_builders and self.store_builders[name] is not builder:
            raise TopologyError(
                f"A state store named {name!r} is already registered; store names must be "
                "unique because they name changelog topics. Pick another name in "
                "Materialized(...) or the store builder."
            )
        self.store_builders[name] = builder
        self.store_users.setdefault(name, [])
        for user in users:
            self.connect_store(name, user)

    def connect_store(self, store_name: str, node_name: str) -> None:
        if store_name not in self.store_builders:
            raise TopologyError(
                f"State store {store_name!r} is not registered; add it with "
                "builder.add_state_store(...) before connecting processors to it."
            )
        node = self.nodes[node_name]
        if store_name not in node.stores:
            node.stores.append(store_name)
        users = self.store_users.setdefault(store_name, [])
        if node_name not in users:
            users.append(node_name)

    def children_of(self, name: str) -> list[str]:
        return [n.name for n in self.nodes.values() if name in n.parents]
