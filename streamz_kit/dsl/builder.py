"""`StreamsBuilder`: the entry point of the DSL. It records a logical graph; nothing runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.store_factory import DEFAULT_KEY_SERDE, DEFAULT_VALUE_SERDE, kv_store_builder
from streamz_kit.errors import TopologyError
from streamz_kit.processor.io import SourceNode
from streamz_kit.processor.node import Node
from streamz_kit.processor.table import TableSourceNode
from streamz_kit.processor.versioned import VersionedTableSourceNode
from streamz_kit.topology.graph import GraphNode, LogicalGraph
from streamz_kit.topology.nullkeys import relax_null_key_filters
from streamz_kit.topology.optimize import optimize as optimize_graph
from streamz_kit.topology.topology import Topology

if TYPE_CHECKING:
    from streamz_kit.dsl.kstream import KStream
    from streamz_kit.dsl.ktable import GlobalKTable, KTable


def _topics(topics: str | list[str]) -> list[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names or not all(isinstance(t, str) and t for t in names):
        raise TopologyError("stream() needs a topic name or a non-empty list of topic names.")
    return names


class StreamsBuilder:
    """Build a topology with the fluent DSL, then call `build()`."""

    def __init__(self, *, optimize: bool = True) -> None:
        """`optimize=False` turns off the topology optimizations (Kafka's
        `topology.optimization=none`); see streamz_kit/topology/optimize.py."""
        self.graph = LogicalGraph()
        self.optimize = optimize
        self._built = False

    # -- sources ----------------------------------------------------------------------
    def add_source(
        self,
        topics: list[str],
        key_serde: Any,
        value_serde: Any,
        timestamp_extractor: Callable[[Any, Any, int], int] | None = None,
        *,
        internal: bool = False,
        name: str | None = None,
    ) -> str:
        node_name = name or self.graph.new_name("KSTREAM-SOURCE")
        ks = key_serde or DEFAULT_KEY_SERDE
        vs = value_serde or DEFAULT_VALUE_SERDE

        def factory() -> SourceNode:
            return SourceNode(node_name, topics, ks, vs, timestamp_extractor)

        self.graph.add_node(
            GraphNode(node_name, factory, [], kind="source", topics=topics, internal=internal)
        )
        return node_name

    def stream(
        self,
        topics: str | list[str],
        *,
        key_serde: Any = None,
        value_serde: Any = None,
        timestamp_extractor: Callable[[Any, Any, int], int] | None = None,
    ) -> KStream:
        """A stream of records from one or more topics."""
        from streamz_kit.dsl.kstream import KStream

        source = self.add_source(_topics(topics), key_serde, value_serde, timestamp_extractor)
        return KStream(self, source, key_serde, value_serde, sources=frozenset([source]))

    def _table_source(
        self,
        topic: str,
        key_serde: Any,
        value_serde: Any,
        materialized: Materialized | None,
        *,
        logging: bool | None = None,
    ) -> tuple[str, str, str, Any, Any]:
        """Source + materializing node + store for a table topic: (source, node, store,
        key serde, value serde). Shared by `table` and `global_table`."""
        mat = materialized or Materialized()
        key_serde = mat.key_serde or key_serde
        value_serde = mat.value_serde or value_serde
        source = self.add_source(_topics(topic), key_serde, value_serde)
        table_name = self.graph.new_name("KTABLE-SOURCE")
        store_name = mat.name or f"{topic}-STATE-STORE-{table_name.rsplit('-', 1)[1]}"
        builder = kv_store_builder(store_name, mat, key_serde, value_serde, logging=logging)

        def factory() -> Node:
            if mat.store == "versioned":
                return VersionedTableSourceNode(table_name, store_name)
            return TableSourceNode(table_name, store_name)

        self.graph.add_node(GraphNode(table_name, factory, [source]))
        self.graph.add_store(builder, table_name)
        return source, table_name, store_name, key_serde, value_serde

    def table(
        self,
        topic: str,
        *,
        key_serde: Any = None,
        value_serde: Any = None,
        materialized: Materialized | None = None,
    ) -> KTable:
        """A changelog stream read as a table: the latest value per key; None deletes."""
        from streamz_kit.dsl.ktable import KTable

        source, node, store, ks, vs = self._table_source(
            topic, key_serde, value_serde, materialized
        )
        table = KTable(
            self,
            node,
            ks,
            vs,
            store_name=store,
            sources=frozenset([source]),
            queryable=materialized is not None and materialized.name is not None,
        )
        table.versioned = materialized is not None and materialized.store == "versioned"
        return table

    def global_table(
        self,
        topic: str,
        *,
        key_serde: Any = None,
        value_serde: Any = None,
        materialized: Materialized | None = None,
    ) -> GlobalKTable:
        """A table replicated in full to every task (every partition of `topic`)."""
        from streamz_kit.dsl.ktable import GlobalKTable
        from streamz_kit.topology.graph import GlobalStore

        # Global stores restore from their source topic; they need no changelog of their own.
        source, node, store, ks, vs = self._table_source(
            topic, key_serde, value_serde, materialized, logging=False
        )
        self.graph.global_stores[store] = GlobalStore(store, topic, source, node)
        return GlobalKTable(self, store, ks, vs)

    def add_state_store(self, store_builder: Any) -> StreamsBuilder:
        """Register a store for Processor API processors (`process(..., stores=[name])`)."""
        self.graph.add_store(store_builder)
        return self

    def build(self, *, optimize: bool | None = None) -> Topology:
        """Compile the graph into sub-topologies, optimized unless `optimize=False` (here or
        on the builder). Raises TopologyError on misuse."""
        if not self.graph.nodes:
            raise TopologyError(
                "The topology is empty; add at least one builder.stream(...) or "
                "builder.table(...) before build()."
            )
        unused = [s for s, users in self.graph.store_users.items() if not users]
        if unused:
            raise TopologyError(
                f"State store(s) {unused} were added but no processor uses them; pass their "
                "names in process(..., stores=[...]) or remove them."
            )
        self._built = True
        if self.optimize if optimize is None else optimize:
            optimize_graph(self.graph)
        relax_null_key_filters(self.graph)  # not an optimization: Kafka always does it
        return Topology(self.graph)
