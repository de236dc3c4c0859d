"""`stream.join(versioned_table, joiner, grace=...)`: the DSL side of KIP-923.

It checks the table and adds the buffering join node with its buffer store to the graph;
dsl/joins.py repartitions the stream first and KStream wraps the node in the KStream it
returns, so this helper never imports the grammar (it reads streams as dsl/shapes.py's
StreamShape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.dsl.shapes import StreamShape
from streamz_kit.dsl.store_factory import resolve_serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.versioned_join import StreamTableJoinGraceNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode
from streamz_kit.windows import to_millis

__all__ = ["add_grace_join_node", "versioned_grace_ms"]


def versioned_grace_ms(graph: Any, table_store: str | None, grace: Any) -> int:
    """The grace in milliseconds, once the table is known to be versioned with history at
    least as long as the grace (checked before the graph changes, so a bad join adds nothing)."""
    grace_ms = to_millis(grace, "grace")
    builder = graph.store_builders.get(table_store) if table_store else None
    if builder is None or table_store is None or builder.kind != "versioned":
        raise TopologyError(
            "A stream-table join with grace= needs a versioned table: read it with "
            "builder.table(topic, materialized=Materialized(name, store='versioned', "
            "history_retention=...)) or to_table(materialized=...)."
        )
    if grace_ms > (builder.retention_ms or 0):
        raise TopologyError(
            f"The join's grace ({grace_ms} ms) is longer than the table's history retention "
            f"({builder.retention_ms} ms): buffered records could not find their row. Lower "
            "the grace or raise history_retention."
        )
    return grace_ms


def add_grace_join_node(
    stream: StreamShape,
    table_store: str,
    joiner: Callable[[Any, Any], Any],
    left: bool,
    name: str | None,
    grace_ms: int,
) -> str:
    """Add the node that buffers stream records for `grace_ms`, then joins each with the table
    row valid at its timestamp; returns the node's name."""
    graph = stream.graph
    node = name or graph.new_name("KSTREAM-LEFTJOIN" if left else "KSTREAM-JOIN")
    buffer_store = f"{node}-Buffer"
    key_serde, value_serde = resolve_serdes(stream.key_serde, stream.value_serde)
    graph.add_node(
        GraphNode(
            node,
            lambda: StreamTableJoinGraceNode(
                node,
                table_store,
                buffer_store,
                joiner=joiner,
                left=left,
                grace_ms=grace_ms,
                key_serde=key_serde,
                value_serde=value_serde,
            ),
            [stream.node],
        )
    )
    graph.add_store(StoreBuilder(buffer_store, "kv", "rocksdb", BYTES, BYTES, caching=False), node)
    graph.connect_store(table_store, node)
    return str(node)
