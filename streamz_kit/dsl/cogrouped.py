"""Cogrouped streams (KIP-150): several grouped streams folded into one aggregate per key.

`groupedA.cogroup(aggA).cogroup(groupedB, aggB).aggregate(initializer)` builds what Kafka
Streams' CogroupedStreamAggregateBuilder builds: one aggregate node per grouped stream, each
with its own aggregator, all sharing one store, then a merge node. A grouped stream whose key
changed upstream goes through a repartition topic named after the store first; all inputs
must be co-partitioned. Every input record yields exactly one update of the result table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from streamz_kit.dsl.checks import check_function
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.store_factory import kv_store_builder, resolve_serdes, window_store_builder
from streamz_kit.errors import TopologyError
from streamz_kit.processor.cogroup import (
    CogroupAggregateNode,
    CogroupMergeNode,
    CogroupSessionWindowNode,
    CogroupSlidingWindowNode,
    CogroupTimeWindowNode,
)
from streamz_kit.processor.io import SinkNode
from streamz_kit.processor.stateless import FilterNode
from streamz_kit.serdes_windowed import SessionWindowedSerde, TimeWindowedSerde
from streamz_kit.stores import StoreBuilder
from streamz_kit.topology.graph import GraphNode, RepartitionTopic
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows

if TYPE_CHECKING:
    # Part of the grammar (docs/architecture.md): the first KGroupedStream (its `_table`)
    # makes the KTable returned.
    from streamz_kit.dsl.grouped import KGroupedStream
    from streamz_kit.dsl.kstream import KStream
    from streamz_kit.dsl.ktable import KTable

__all__ = [
    "CogroupedKStream",
    "SessionWindowedCogroupedKStream",
    "TimeWindowedCogroupedKStream",
]

Aggregator = Callable[[Any, Any, Any], Any]
# (node name, store name, aggregator) -> node
NodeMaker = Callable[[str, str, Aggregator], Any]


def _not_null_key(key: Any, value: Any) -> bool:
    return key is not None


class CogroupedKStream:
    """Grouped streams waiting to be aggregated together; `cogroup` adds one more."""

    def __init__(self, grouped: KGroupedStream, aggregator: Aggregator) -> None:
        check_function(aggregator, "cogroup()'s aggregator(key, value, agg)")
        self.builder = grouped.stream.builder
        self.groups: list[tuple[KGroupedStream, Aggregator]] = [(grouped, aggregator)]

    def cogroup(self, grouped: KGroupedStream, aggregator: Aggregator) -> CogroupedKStream:
        """Add another grouped stream (its values may be of another type) with its own
        `aggregator(key, value, agg)`; returns this cogrouped stream."""
        from streamz_kit.dsl.grouped import KGroupedStream

        if not isinstance(grouped, KGroupedStream):
            raise TopologyError(
                f"cogroup() takes a KGroupedStream (stream.group_by_key() or group_by(...)), "
                f"not {type(grouped).__name__}."
            )
        check_function(aggregator, "cogroup()'s aggregator(key, value, agg)")
        if grouped.stream.builder is not self.builder:
            raise TopologyError("Cogrouped streams must come from the same StreamsBuilder.")
        if any(g is grouped for g, _ in self.groups):
            raise TopologyError(
                "This grouped stream is already part of the cogroup; give each grouped stream "
                "one aggregator."
            )
        self.groups.append((grouped, aggregator))
        return self

    def aggregate(
        self,
        initializer: Callable[[], Any],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """One aggregate per key over every cogrouped stream, starting from `initializer()`."""
        check_function(initializer, "aggregate()'s initializer()")

        def store(store_name: str, mat: Materialized, key_serde: Any) -> StoreBuilder:
            return kv_store_builder(store_name, mat, key_serde, mat.value_serde)

        def node(n: str, s: str, agg: Aggregator) -> Any:
            return CogroupAggregateNode(n, s, initializer, agg)

        return _build(self, materialized, name, store, node, lambda ks: ks)

    @overload
    def windowed_by(
        self, windows: TimeWindows | SlidingWindows
    ) -> TimeWindowedCogroupedKStream: ...

    @overload
    def windowed_by(self, windows: SessionWindows) -> SessionWindowedCogroupedKStream: ...

    def windowed_by(
        self, windows: TimeWindows | SlidingWindows | SessionWindows
    ) -> TimeWindowedCogroupedKStream | SessionWindowedCogroupedKStream:
        """Aggregate per key and window: TimeWindows, SlidingWindows or SessionWindows."""
        if isinstance(windows, SessionWindows):
            return SessionWindowedCogroupedKStream(self, windows)
        if isinstance(windows, (TimeWindows, SlidingWindows)):
            return TimeWindowedCogroupedKStream(self, windows)
        raise TopologyError(
            f"windowed_by() takes TimeWindows, SlidingWindows or SessionWindows, not "
            f"{type(windows).__name__}."
        )


def _window_store(
    kind: str, windows: Any, size_ms: int | None
) -> Callable[[str, Materialized, Any], StoreBuilder]:
    def store(store_name: str, mat: Materialized, key_serde: Any) -> StoreBuilder:
        ks, vs = resolve_serdes(key_serde, mat.value_serde)
        return window_store_builder(store_name, kind, windows, mat, ks, vs, size_ms)

    return store


class TimeWindowedCogroupedKStream:
    """A cogrouped stream over tumbling, hopping or sliding windows."""

    def __init__(self, cogrouped: CogroupedKStream, windows: TimeWindows | SlidingWindows) -> None:
        self.cogrouped = cogrouped
        self.windows = windows

    def aggregate(
        self,
        initializer: Callable[[], Any],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Fold every cogrouped stream per key and window, from `initializer()`."""
        check_function(initializer, "aggregate()'s initializer()")
        windows = self.windows
        size = int(windows.size_ms)
        node: Callable[[str, str, Aggregator], Any]
        if isinstance(windows, SlidingWindows):

            def node(n: str, s: str, agg: Aggregator) -> Any:
                return CogroupSlidingWindowNode(n, s, windows, initializer, agg)
        else:

            def node(n: str, s: str, agg: Aggregator) -> Any:
                return CogroupTimeWindowNode(n, s, windows, initializer, agg)

        table = _build(
            self.cogrouped,
            materialized,
            name,
            _window_store("window", windows, size),
            node,
            lambda ks: TimeWindowedSerde(ks, size),
        )
        table.graph.nodes[table.node].windows = windows  # suppress() reads the grace
        return table


class SessionWindowedCogroupedKStream:
    """A cogrouped stream over activity sessions."""

    def __init__(self, cogrouped: CogroupedKStream, windows: SessionWindows) -> None:
        self.cogrouped = cogrouped
        self.windows = windows

    def aggregate(
        self,
        initializer: Callable[[], Any],
        merger: Callable[[Any, Any, Any], Any],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Fold every cogrouped stream per session; `merger(key, agg1, agg2)` joins the
        sessions a record bridges."""
        check_function(initializer, "aggregate()'s initializer()")
        check_function(merger, "aggregate()'s merger(key, agg1, agg2)")
        windows = self.windows

        def node(n: str, s: str, agg: Aggregator) -> Any:
            return CogroupSessionWindowNode(n, s, windows, initializer, agg, merger)

        table = _build(
            self.cogrouped,
            materialized,
            name,
            _window_store("session", windows, None),
            node,
            SessionWindowedSerde,
        )
        table.graph.nodes[table.node].windows = windows  # suppress() reads the grace
        return table


def _build(
    cogrouped: CogroupedKStream,
    materialized: Materialized | None,
    name: str | None,
    make_store: Callable[[str, Materialized, Any], StoreBuilder],
    make_node: NodeMaker,
    table_key_serde: Callable[[Any], Any],
) -> KTable:
    builder = cogrouped.builder
    graph = builder.graph
    mat = materialized or Materialized()
    store_name = mat.name or graph.new_name("COGROUPKSTREAM-AGGREGATE-STATE-STORE")
    first = cogrouped.groups[0][0]
    key_serde = (
        mat.key_serde
        or first.key_serde
        or next((g.key_serde for g, _ in cogrouped.groups if g.key_serde is not None), None)
    )
    upstreams: list[KStream] = []
    repartitioned = 0
    for grouped, _ in cogrouped.groups:
        stream = grouped.stream
        if stream.repartition_required:
            base = store_name if repartitioned == 0 else f"{store_name}-{repartitioned}"
            stream = _repartition(stream, base, key_serde, grouped.value_serde)
            repartitioned += 1
        upstreams.append(stream)
    sources = frozenset().union(*(s.sources for s in upstreams))
    graph.copartition_groups.append(set(sources))
    agg_names: list[str] = []
    for index, (stream, (_, aggregator)) in enumerate(zip(upstreams, cogrouped.groups)):
        node_name = (
            f"{name}-cogroup-agg-{index}" if name else graph.new_name("COGROUPKSTREAM-AGGREGATE")
        )
        graph.add_node(
            GraphNode(
                node_name, _factory(make_node, node_name, store_name, aggregator), [stream.node]
            )
        )
        agg_names.append(node_name)
    store_builder = make_store(store_name, mat, key_serde)
    graph.add_store(store_builder, *agg_names)
    merge_name = f"{name}-cogroup-merge" if name else graph.new_name("COGROUPKSTREAM-MERGE")
    graph.add_node(
        GraphNode(merge_name, lambda: CogroupMergeNode(merge_name, store_name), agg_names)
    )
    return first._table(
        merge_name,
        table_key_serde(store_builder.key_serde),
        store_builder.value_serde,
        store_name,
        sources,
    )


def _factory(make_node: NodeMaker, node_name: str, store_name: str, agg: Aggregator) -> Any:
    return lambda: make_node(node_name, store_name, agg)


def _repartition(stream: KStream, base: str, key_serde: Any, value_serde: Any) -> KStream:
    """Kafka's cogroup repartition: `<base>-repartition` with a null-key filter, sink and
    source named after it (each still takes a number from the counter, as in Kafka)."""
    graph = stream.graph
    topic = f"{base}-repartition"
    if topic in graph.repartition_topics:
        raise TopologyError(
            f"Repartition topic {topic!r} is already used; give this aggregation another "
            "store name with Materialized(name)."
        )
    graph.repartition_topics[topic] = RepartitionTopic(topic, None)
    ks, vs = resolve_serdes(key_serde or stream.key_serde, value_serde or stream.value_serde)
    for _ in range(3):
        graph.new_name("KSTREAM-REPARTITION")
    filter_name, sink_name = f"{topic}-filter", f"{topic}-sink"
    graph.add_node(
        GraphNode(filter_name, lambda: FilterNode(filter_name, _not_null_key, False), [stream.node])
    )
    graph.add_node(
        GraphNode(
            sink_name,
            lambda: SinkNode(sink_name, topic, ks, vs, internal=True),
            [filter_name],
            kind="sink",
            sink_topic=topic,
            internal=True,
        )
    )
    source = stream.builder.add_source([topic], ks, vs, internal=True, name=f"{topic}-source")
    from streamz_kit.dsl.kstream import KStream

    return KStream(stream.builder, source, ks, vs, sources=frozenset([source]))
