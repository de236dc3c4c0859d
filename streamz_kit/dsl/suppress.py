"""`KTable.suppress(...)`: the DSL side of final-result suppression for windowed tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamz_kit.dsl.store_factory import resolve_serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.suppress import BufferValueSerde, SuppressNode
from streamz_kit.processor.suppress_time import HeaderedBufferSerde, TimeLimitSuppressNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode
from streamz_kit.windows import SessionWindows, Suppressed

if TYPE_CHECKING:
    from streamz_kit.dsl.ktable import KTable

__all__ = ["WINDOWS_ATTR", "suppress"]

# Set by the windowed aggregations on the tables they return (read here to find the grace).
WINDOWS_ATTR = "_windows"


def _find_windows(table: KTable) -> Any:
    """The windows of the aggregation this table derives from (Kafka's findAndVerifyWindowGrace)."""
    current: KTable | None = table
    while current is not None:
        windows = getattr(current, WINDOWS_ATTR, None)
        if windows is not None:
            return windows
        current = current.parent
    raise TopologyError(
        "suppress(Suppressed.until_window_closes()) works on windowed tables only: apply it "
        "to the result of group_by_key().windowed_by(...).count/reduce/aggregate (possibly "
        "after filter or map_values)."
    )


def suppress(table: KTable, suppressed: Any, *, name: str | None = None) -> KTable:
    """Add a node that holds updates back until each window closes, then emits once."""
    from streamz_kit.dsl.ktable import KTable

    if not isinstance(suppressed, Suppressed):
        raise TopologyError(
            "suppress() takes Suppressed.until_window_closes() or Suppressed.until_time_limit(), "
            f"not {type(suppressed).__name__}."
        )
    if suppressed.max_bytes is not None:
        raise TopologyError(
            "Suppressed max_bytes is not supported; bound the buffer with max_records instead."
        )
    suppress_ms = 0
    if suppressed.time_limit_ms is None:
        windows = _find_windows(table)
        suppress_ms = windows.grace_ms
        if isinstance(windows, SessionWindows):
            suppress_ms += windows.gap_ms
    graph = table.graph
    node_name = name or graph.new_name("KTABLE-SUPPRESS")
    store_name = f"{name}-store" if name else graph.new_name("KTABLE-SUPPRESS-STATE-STORE")
    key_serde, value_serde = resolve_serdes(table.key_serde, table.value_serde)
    # In memory with a changelog, as Kafka's suppression buffer: restored on restart.
    buffer_serde = (BufferValueSerde(value_serde) if suppressed.time_limit_ms is None
                    else HeaderedBufferSerde(value_serde))
    builder = StoreBuilder(
        store_name, "kv", "memory", BYTES, buffer_serde, logging=True, caching=False,
    )
    child = KTable(
        table.builder, node_name, table.key_serde, table.value_serde,
        store_name=None, sources=table.sources, parent=table,
    )
    max_records = suppressed.max_records
    time_limit = suppressed.time_limit_ms
    if time_limit is not None:
        graph.add_node(GraphNode(node_name, lambda: TimeLimitSuppressNode(
            node_name, store_name, time_limit_ms=time_limit, key_serde=key_serde,
            max_records=max_records, send_old_values=lambda: child.send_old_values,
        ), [table.node]))
        graph.add_store(builder, node_name)
        return child
    graph.add_node(GraphNode(node_name, lambda: SuppressNode(
        node_name, store_name, suppress_ms=suppress_ms, key_serde=key_serde,
        max_records=max_records, send_old_values=lambda: child.send_old_values,
    ), [table.node]))
    graph.add_store(builder, node_name)
    return child
