"""`KTable.suppress(...)`: the DSL side of final-result suppression for windowed tables.

It adds the suppression node and its buffer store to the graph; `KTable.suppress` wraps the
node in the KTable it returns, so this helper never imports the grammar (tables are read
as dsl/shapes.py's TableShape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.dsl.shapes import TableShape
from streamz_kit.dsl.store_factory import resolve_serdes
from streamz_kit.errors import TopologyError
from streamz_kit.processor.suppress import BufferValueSerde, SuppressNode
from streamz_kit.processor.suppress_time import HeaderedBufferSerde, TimeLimitSuppressNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode
from streamz_kit.windows import SessionWindows, Suppressed

__all__ = ["add_suppress_node"]


def _find_windows(table: TableShape) -> Any:
    """The windows of the aggregation this table derives from (Kafka's findAndVerifyWindowGrace)."""
    current: Any = table
    while current is not None:
        # Kept on the aggregation's graph node by dsl/windowed.py and dsl/cogrouped.py.
        windows = current.graph.nodes[current.node].windows
        if windows is not None:
            return windows
        current = current.parent
    raise TopologyError(
        "suppress(Suppressed.until_window_closes()) works on windowed tables only: apply it "
        "to the result of group_by_key().windowed_by(...).count/reduce/aggregate (possibly "
        "after filter or map_values)."
    )


def add_suppress_node(
    table: TableShape, suppressed: Any, name: str | None, send_old_values: Callable[[], bool]
) -> str:
    """Add a node after `table` that holds updates back until each window closes (or the
    time limit passes), then emits once; returns the node's name. `send_old_values` tells,
    once the topology is built, whether the table the caller makes of it needs old values."""
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
    buffer_serde = (
        BufferValueSerde(value_serde)
        if suppressed.time_limit_ms is None
        else HeaderedBufferSerde(value_serde)
    )
    builder = StoreBuilder(
        store_name,
        "kv",
        "memory",
        BYTES,
        buffer_serde,
        logging=True,
        caching=False,
    )
    max_records = suppressed.max_records
    time_limit = suppressed.time_limit_ms
    make: Callable[[], Any]
    if time_limit is not None:

        def make() -> Any:
            return TimeLimitSuppressNode(
                node_name,
                store_name,
                time_limit_ms=time_limit,
                key_serde=key_serde,
                max_records=max_records,
                send_old_values=send_old_values,
            )
    else:

        def make() -> Any:
            return SuppressNode(
                node_name,
                store_name,
                suppress_ms=suppress_ms,
                key_serde=key_serde,
                max_records=max_records,
                send_old_values=send_old_values,
            )

    graph.add_node(GraphNode(node_name, make, [table.node]))
    graph.add_store(builder, node_name)
    return node_name
