"""`stream.join(versioned_table, joiner, grace=...)`: the DSL side of KIP-923."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamz_kit.dsl.store_factory import resolve_serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.versioned_join import StreamTableJoinGraceNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode
from streamz_kit.windows import to_millis

if TYPE_CHECKING:
    from streamz_kit.dsl.kstream import KStream
    from streamz_kit.dsl.ktable import KTable

__all__ = ["stream_table_with_grace"]


def stream_table_with_grace(
    stream: KStream,
    table: KTable,
    joiner: Callable[[Any, Any], Any],
    left: bool,
    name: str | None,
    grace: Any,
) -> KStream:
    """Buffer stream records for `grace`, then join each with the table row valid at its
    timestamp. The table must be versioned, with history at least as long as the grace."""
    from streamz_kit.dsl.joins import _copartition, _repartitioned
    from streamz_kit.dsl.kstream import KStream

    grace_ms = to_millis(grace, "grace")
    graph = stream.graph
    table_store = table.store_name
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
    stream = _repartitioned(stream)
    node = name or graph.new_name("KSTREAM-LEFTJOIN" if left else "KSTREAM-JOIN")
    buffer_store = f"{node}-Buffer"
    key_serde, value_serde = resolve_serdes(stream.key_serde, stream.value_serde)
    graph.add_node(GraphNode(node, lambda: StreamTableJoinGraceNode(
        node, table_store, buffer_store, joiner=joiner, left=left, grace_ms=grace_ms,
        key_serde=key_serde, value_serde=value_serde,
    ), [stream.node]))
    graph.add_store(StoreBuilder(buffer_store, "kv", "rocksdb", BYTES, BYTES, caching=False), node)
    graph.connect_store(table_store, node)
    sources = stream.sources | table.sources
    _copartition(stream, sources)
    return KStream(stream.builder, node, stream.key_serde, None, sources=sources)
