"""Joins in the DSL: what `KStream.join/left_join/outer_join` and `KTable.join/...` build.

Every join records its sides' source nodes as a co-partition group (the compiler checks
their topics have equal partition counts) and repartitions a stream side whose key
changed upstream. A table side without a store gets one (a small materializing node right
after it), so a join can always read the other side's current value.

The grammar calls in here and wraps what comes back: a stream join returns the facts of the
KStream to make (`JoinedStream`), a table join makes its KTable with the constructor the
grammar passes. This module never imports the grammar (dsl/shapes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from streamz_kit.dsl.checks import check_function
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.shapes import StreamShape, TableShape
from streamz_kit.dsl.store_factory import kv_store_builder, resolve_serdes
from streamz_kit.dsl.versioned_join import add_grace_join_node, versioned_grace_ms
from streamz_kit.errors import TopologyError
from streamz_kit.processor.joins import (
    JoinWindowNode,
    LeftOrRightListSerde,
    StreamGlobalTableJoinNode,
    StreamStreamJoinNode,
    StreamTableJoinNode,
    TableJoinMergeNode,
    TableMaterializeNode,
    TableTableJoinNode,
    TimeTrackers,
)
from streamz_kit.processor.stateless import PassThroughNode
from streamz_kit.serdes import BYTES
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode
from streamz_kit.topology.nullkeys import NULL_KEY_RELAXED_JOIN
from streamz_kit.windows import JoinWindows

__all__ = ["JoinedStream", "join_stream", "join_tables", "table_store"]

KINDS = ("inner", "left", "outer")


class _Stream(StreamShape, Protocol):
    def _join_input(self) -> _Stream:
        """The stream a join reads: repartitioned once if its key changed (KStream)."""
        ...


class JoinedStream(NamedTuple):
    """The KStream a stream join returns, as facts the grammar wraps."""

    node: str
    key_serde: Any
    sources: frozenset[str]
    repartition_required: bool = False


class _JoinedTable(Protocol):
    @property
    def send_old_values(self) -> bool: ...


T = TypeVar("T", bound=_JoinedTable)


def _copartition(stream: StreamShape, sources: frozenset[str]) -> None:
    stream.graph.copartition_groups.append(set(sources))


def table_store(table: TableShape) -> tuple[str, str]:
    """(store name, node whose children see the stored value) for reading `table` in a join.
    A table without a store gets a materializing node, kept on its graph node (join_store)
    so every later join of the table reads the same one."""
    if table.store_name is not None:
        return table.store_name, table.node
    fact = table.graph.nodes[table.node]
    if fact.join_store is not None:
        return fact.join_store  # type: ignore[no-any-return]
    graph = table.graph
    node = graph.new_name("KTABLE-MATERIALIZE")
    store = f"{node}-STATE-STORE"
    graph.add_node(GraphNode(node, lambda: TableMaterializeNode(node, store), [table.node]))
    graph.add_store(
        kv_store_builder(store, Materialized(), table.key_serde, table.value_serde), node
    )
    fact.join_store = (store, node)
    return store, node


def _stream_table_with_grace(
    stream: _Stream,
    table: TableShape,
    joiner: Callable[[Any, Any], Any],
    left: bool,
    name: str | None,
    grace: Any,
) -> JoinedStream:
    """Buffer stream records for `grace`, then join each with the table row valid at its
    timestamp (the node is built in dsl/versioned_join.py)."""
    grace_ms = versioned_grace_ms(stream.graph, table.store_name, grace)
    assert table.store_name is not None  # versioned_grace_ms checked it
    stream = stream._join_input()
    node = add_grace_join_node(stream, table.store_name, joiner, left, name, grace_ms)
    sources = stream.sources | table.sources
    _copartition(stream, sources)
    return JoinedStream(node, stream.key_serde, sources)


def join_stream(
    stream: _Stream,
    other: Any,
    side: str | None,
    args: tuple[Any, ...],
    *,
    windows: Any = None,
    kind: str = "inner",
    name: str | None = None,
    grace: Any = None,
) -> JoinedStream:
    """Dispatch on the other side, which the grammar names: "stream" (windowed join),
    "table", "global" (a GlobalKTable) or None (not a side a stream joins)."""
    if side == "stream":
        if not isinstance(windows, JoinWindows):
            raise TopologyError(
                "A stream-stream join needs windows=JoinWindows...(...), e.g. "
                "JoinWindows.of_time_difference_without_grace(timedelta(minutes=5))."
            )
        (joiner,) = _one(args, "joiner(left_value, right_value)")
        return _stream_stream(stream, other, joiner, windows, kind, name)
    if windows is not None:
        raise TopologyError("windows= applies to stream-stream joins only.")
    if kind == "outer":
        raise TopologyError(
            "outer_join() is defined for stream-stream and table-table joins only; use "
            "left_join() to join a stream with a table."
        )
    if side == "table":
        (joiner,) = _one(args, "joiner(stream_value, table_value)")
        if grace is not None:
            return _stream_table_with_grace(stream, other, joiner, kind == "left", name, grace)
        return _stream_table(stream, other, joiner, kind == "left", name)
    if grace is not None:
        raise TopologyError("grace= applies to a stream-table join against a versioned table.")
    if side == "global":
        if len(args) != 2:
            raise TopologyError(
                "A global table join takes join(global_table, key_fn, joiner): key_fn(key, "
                "value) picks the table key, joiner(stream_value, table_value) the result."
            )
        key_fn, joiner = args
        check_function(key_fn, "key_fn(key, value)")
        check_function(joiner, "joiner(stream_value, table_value)")
        return _stream_global(stream, other, key_fn, joiner, kind == "left", name)
    raise TopologyError(
        f"join() takes a KStream, KTable or GlobalKTable, not {type(other).__name__}."
    )


def _one(args: tuple[Any, ...], what: str) -> tuple[Any]:
    if len(args) != 1:
        raise TopologyError(f"This join takes one function, {what}; got {len(args)}.")
    check_function(args[0], what)
    return (args[0],)


def _stream_stream(
    left: _Stream,
    right: _Stream,
    joiner: Callable[[Any, Any], Any],
    windows: JoinWindows,
    kind: str,
    name: str | None,
) -> JoinedStream:
    if right.builder is not left.builder:
        raise TopologyError("Both streams of a join must come from the same StreamsBuilder.")
    left, right = left._join_input(), right._join_input()
    graph = left.graph
    this_prefix, other_prefix = (
        ("KSTREAM-OUTERTHIS", "KSTREAM-OUTEROTHER")
        if kind == "outer"
        else ("KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER")
    )
    left_window = graph.new_name("KSTREAM-WINDOWED")
    right_window = graph.new_name("KSTREAM-WINDOWED")
    this_name = f"{name}-this-join" if name else graph.new_name(this_prefix)
    other_name = f"{name}-other-join" if name else graph.new_name(other_prefix)
    merge_name = f"{name}-merge" if name else graph.new_name("KSTREAM-MERGE")
    left_store, right_store = f"{this_name}-store", f"{other_name}-store"
    shared = None
    if kind != "inner":
        shared = (
            f"{name}-outer-shared-join-store"
            if name
            else (f"KSTREAM-OUTERSHARED-{this_name.rsplit('-', 1)[1]}-store")
        )
    lks, lvs = resolve_serdes(left.key_serde or right.key_serde, left.value_serde)
    _, rvs = resolve_serdes(None, right.value_serde)
    size = max(1, windows.before_ms + windows.after_ms)
    # Kafka's join stores keep before + after + grace; with no time difference and no grace
    # that is 0, and a record is expired as soon as it is written: such a join (Kafka 4.4)
    # joins nothing, not even equal timestamps. Kept for Kafka's results (docs/semantics.md).
    retention = windows.before_ms + windows.after_ms + windows.grace_ms
    for store, vs in ((left_store, lvs), (right_store, rvs)):
        graph.add_store(
            StoreBuilder(
                store,
                "window",
                "rocksdb",
                lks,
                vs,
                retention_ms=retention,
                window_size_ms=size,
                retain_duplicates=True,
            )
        )
    if shared is not None:
        graph.add_store(
            StoreBuilder(shared, "kv", "rocksdb", BYTES, LeftOrRightListSerde(lvs, rvs))
        )
    trackers = TimeTrackers()

    def side(is_left: bool) -> Callable[[], StreamStreamJoinNode]:
        node = this_name if is_left else other_name
        outer = kind == "outer" or (kind == "left" and is_left)
        return lambda: StreamStreamJoinNode(
            node,
            is_left=is_left,
            other_store=right_store if is_left else left_store,
            outer_store=shared,
            outer=outer,
            before_ms=windows.before_ms,
            after_ms=windows.after_ms,
            grace_ms=windows.grace_ms,
            joiner=joiner,
            key_serde=lks,
            trackers=trackers,
        )

    graph.add_node(
        GraphNode(left_window, lambda: JoinWindowNode(left_window, left_store), [left.node])
    )
    graph.add_node(
        GraphNode(right_window, lambda: JoinWindowNode(right_window, right_store), [right.node])
    )
    graph.add_node(GraphNode(this_name, side(True), [left_window]))
    graph.add_node(GraphNode(other_name, side(False), [right_window]))
    merge = graph.add_node(
        GraphNode(merge_name, lambda: PassThroughNode(merge_name), [this_name, other_name])
    )
    if kind != "inner":
        merge.labels.add(NULL_KEY_RELAXED_JOIN)  # null keys of an outer side are emitted
    graph.connect_store(left_store, left_window)
    graph.connect_store(left_store, other_name)
    graph.connect_store(right_store, right_window)
    graph.connect_store(right_store, this_name)
    if shared is not None:
        graph.connect_store(shared, this_name)
        graph.connect_store(shared, other_name)
    sources = left.sources | right.sources
    _copartition(left, sources)
    return JoinedStream(merge_name, left.key_serde, sources)


def _stream_table(
    stream: _Stream,
    table: TableShape,
    joiner: Callable[[Any, Any], Any],
    left: bool,
    name: str | None,
) -> JoinedStream:
    stream = stream._join_input()
    graph = stream.graph
    store, _ = table_store(table)
    node = name or graph.new_name("KSTREAM-LEFTJOIN" if left else "KSTREAM-JOIN")
    joined = graph.add_node(
        GraphNode(node, lambda: StreamTableJoinNode(node, store, joiner, left), [stream.node])
    )
    if left:
        joined.labels.add(NULL_KEY_RELAXED_JOIN)
    graph.connect_store(store, node)
    sources = stream.sources | table.sources
    _copartition(stream, sources)
    return JoinedStream(node, stream.key_serde, sources)


def _stream_global(
    stream: _Stream,
    table: Any,
    key_fn: Callable[[Any, Any], Any],
    joiner: Callable[[Any, Any], Any],
    left: bool,
    name: str | None,
) -> JoinedStream:
    """No co-partitioning and no repartition: every task holds the whole global table.
    The global store is looked up by name at run time (task.get_store), not connected, so
    no task builds a local copy of it."""
    graph = stream.graph
    store = table.store_name
    node = name or graph.new_name("KSTREAM-LEFTJOIN" if left else "KSTREAM-JOIN")
    joined = graph.add_node(
        GraphNode(
            node,
            lambda: StreamGlobalTableJoinNode(node, store, key_fn, joiner, left),
            [stream.node],
        )
    )
    if left:
        joined.labels.add(NULL_KEY_RELAXED_JOIN)
    return JoinedStream(node, stream.key_serde, stream.sources, stream.repartition_required)


def join_tables(
    left: TableShape,
    right: TableShape,
    joiner: Callable[[Any, Any], Any],
    *,
    kind: str,
    result: Callable[[str, Any, str | None, frozenset[str]], T],
    materialized: Materialized | None = None,
    name: str | None = None,
) -> T:
    """KTable-KTable join: each side's update looks up the other side's current value.
    `result(node, value_serde, store_name, sources)` makes the KTable returned (the
    grammar's constructor: its nodes ask the result whether to send old values)."""
    check_function(joiner, "joiner(left_value, right_value)")
    if right.builder is not left.builder:
        raise TopologyError("Both tables of a join must come from the same StreamsBuilder.")
    graph = left.graph
    if kind in ("left", "outer"):
        left.enable_send_old_values()
    if kind == "outer":
        right.enable_send_old_values()
    left_store, left_node = table_store(left)
    right_store, right_node = table_store(right)
    prefix = {"inner": "KTABLE-JOIN", "left": "KTABLE-LEFTJOIN", "outer": "KTABLE-OUTERJOIN"}
    this_name = f"{name}-join-this" if name else graph.new_name(f"{prefix[kind]}THIS")
    other_name = f"{name}-join-other" if name else graph.new_name(f"{prefix[kind]}OTHER")
    merge_name = name or graph.new_name("KTABLE-MERGE")
    store_name = None
    value_serde = None
    if materialized is not None:
        store_name = materialized.name or f"{merge_name}-STATE-STORE"
        value_serde = materialized.value_serde
    sources = left.sources | right.sources
    joined = result(merge_name, value_serde, store_name, sources)
    modes = {"inner": ("inner", "inner"), "left": ("left", "right"), "outer": ("outer", "outer")}
    this_mode, other_mode = modes[kind]

    def old_values() -> bool:
        return joined.send_old_values

    graph.add_node(
        GraphNode(
            this_name,
            lambda: TableTableJoinNode(
                this_name,
                right_store,
                is_left=True,
                mode=this_mode,
                joiner=joiner,
                send_old_values=old_values,
            ),
            [left_node],
        )
    )
    graph.add_node(
        GraphNode(
            other_name,
            lambda: TableTableJoinNode(
                other_name,
                left_store,
                is_left=False,
                mode=other_mode,
                joiner=joiner,
                send_old_values=old_values,
            ),
            [right_node],
        )
    )
    graph.add_node(
        GraphNode(
            merge_name,
            lambda: TableJoinMergeNode(merge_name, store_name, old_values),
            [this_name, other_name],
        )
    )
    graph.connect_store(right_store, this_name)
    graph.connect_store(left_store, other_name)
    if materialized is not None and store_name is not None:
        graph.add_store(
            kv_store_builder(store_name, materialized, left.key_serde, value_serde), merge_name
        )
    graph.copartition_groups.append(set(sources))
    return joined
