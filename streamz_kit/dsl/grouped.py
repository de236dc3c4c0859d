"""Grouped streams and tables: the step between re-keying and aggregating."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, overload

from streamz_kit import serdes
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.store_factory import kv_store_builder
from streamz_kit.errors import TopologyError
from streamz_kit.processor.aggregate import (
    StreamAggregateNode,
    StreamReduceNode,
    TableAggregateNode,
    TableReduceNode,
)
from streamz_kit.topology.graph import GraphNode
from streamz_kit.topology.internal_serdes import ChangeSerde
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows

if TYPE_CHECKING:
    from streamz_kit.dsl.cogrouped import CogroupedKStream
    from streamz_kit.dsl.kstream import KStream
    from streamz_kit.dsl.ktable import KTable
    from streamz_kit.dsl.windowed import SessionWindowedKStream, TimeWindowedKStream


def _count_adder(key: Any, value: Any, agg: int) -> int:
    return agg + 1


def _count_subtractor(key: Any, value: Any, agg: int) -> int:
    return agg - 1


def _zero() -> int:
    return 0


class KGroupedStream:
    """A stream grouped by key, ready for count / reduce / aggregate (or windowing)."""

    def __init__(self, stream: KStream, key_serde: Any, value_serde: Any) -> None:
        self.stream = stream
        self.key_serde = key_serde
        self.value_serde = value_serde

    def _prepare(self, prefix: str, materialized: Materialized | None, value_serde: Any):  # type: ignore[no-untyped-def]
        graph = self.stream.graph
        mat = materialized or Materialized()
        node_name = graph.new_name(prefix)
        store_name = mat.name or graph.new_name(f"{prefix}-STATE-STORE")
        key_serde = mat.key_serde or self.key_serde
        upstream = self.stream
        if upstream.repartition_required:
            upstream = upstream._through_repartition(
                store_name, key_serde, self.value_serde, implicit=True
            )
        builder = kv_store_builder(store_name, mat, key_serde, mat.value_serde or value_serde)
        return node_name, store_name, upstream, builder, key_serde, mat.value_serde or value_serde

    def _finish(
        self,
        node_name: str,
        store_name: str,
        upstream: KStream,
        builder: Any,
        key_serde: Any,
        value_serde: Any,
        factory: Callable[[], Any],
        windows: Any = None,
    ) -> KTable:
        """Add the aggregation node and its store, and wrap the node in the KTable returned
        (also for dsl/windowed.py, which passes its `windows` to keep on the node)."""
        graph = self.stream.graph
        graph.add_node(GraphNode(node_name, factory, [upstream.node], windows=windows))
        graph.add_store(builder, node_name)
        return self._table(node_name, key_serde, value_serde, store_name, upstream.sources)

    def _table(
        self,
        node_name: str,
        key_serde: Any,
        value_serde: Any,
        store_name: str,
        sources: frozenset[str],
    ) -> KTable:
        """The KTable of an aggregation node that dsl/windowed.py or dsl/cogrouped.py added."""
        from streamz_kit.dsl.ktable import KTable

        return KTable(
            self.stream.builder,
            node_name,
            key_serde,
            value_serde,
            store_name=store_name,
            sources=sources,
        )

    def count(self, *, materialized: Materialized | None = None) -> KTable:
        """Count records per key (values in the store and downstream are serdes.LONG)."""
        return self.aggregate(
            _zero,
            lambda k, v, agg: agg + 1,
            materialized=materialized,
            _value_serde=serdes.LONG,
            _prefix="KSTREAM-AGGREGATE",
        )

    def reduce(
        self, reducer: Callable[[Any, Any], Any], *, materialized: Materialized | None = None
    ) -> KTable:
        """Combine values per key with `reducer(agg, value)`; the first value starts it."""
        if not callable(reducer):
            raise TopologyError("reduce() needs a function reducer(agg, value).")
        node_name, store_name, upstream, builder, ks, vs = self._prepare(
            "KSTREAM-REDUCE", materialized, self.value_serde
        )
        return self._finish(
            node_name,
            store_name,
            upstream,
            builder,
            ks,
            vs,
            lambda: StreamReduceNode(node_name, store_name, reducer),
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        *,
        materialized: Materialized | None = None,
        _value_serde: Any = None,
        _prefix: str = "KSTREAM-AGGREGATE",
    ) -> KTable:
        """Fold values per key: `aggregator(key, value, agg)` starting from `initializer()`."""
        if not callable(initializer) or not callable(aggregator):
            raise TopologyError(
                "aggregate() needs initializer() and aggregator(key, value, agg) functions."
            )
        node_name, store_name, upstream, builder, ks, vs = self._prepare(
            _prefix, materialized, _value_serde
        )
        return self._finish(
            node_name,
            store_name,
            upstream,
            builder,
            ks,
            vs,
            lambda: StreamAggregateNode(node_name, store_name, initializer, aggregator),
        )

    @overload
    def windowed_by(self, windows: TimeWindows | SlidingWindows) -> TimeWindowedKStream: ...

    @overload
    def windowed_by(self, windows: SessionWindows) -> SessionWindowedKStream: ...

    def windowed_by(
        self, windows: TimeWindows | SlidingWindows | SessionWindows
    ) -> TimeWindowedKStream | SessionWindowedKStream:
        """Aggregate per key and window: TimeWindows, SlidingWindows or SessionWindows."""
        from streamz_kit.dsl.windowed import windowed_by

        return windowed_by(self, windows)

    def cogroup(self, aggregator: Callable[[Any, Any, Any], Any]) -> CogroupedKStream:
        """Start a cogrouped aggregation (KIP-150): this stream folds into the shared aggregate
        with `aggregator(key, value, agg)`; add more with `.cogroup(grouped, aggregator)`."""
        from streamz_kit.dsl.cogrouped import CogroupedKStream

        return CogroupedKStream(self, aggregator)


class KGroupedTable:
    """A table re-grouped by `KTable.group_by`; aggregations subtract old and add new values."""

    def __init__(self, selected: KStream, key_serde: Any, value_serde: Any) -> None:
        # `selected` carries Change values under their new keys; the aggregation adds the
        # repartition topic, named after its store as Kafka Streams does.
        self.stream = selected
        self.key_serde = key_serde
        self.value_serde = value_serde

    def _add(
        self,
        prefix: str,
        materialized: Materialized | None,
        value_serde: Any,
        make: Callable[[str, str], Any],
    ) -> KTable:
        from streamz_kit.dsl.ktable import KTable
        from streamz_kit.dsl.store_factory import DEFAULT_VALUE_SERDE

        graph = self.stream.graph
        mat = materialized or Materialized()
        node_name = graph.new_name(prefix)
        store_name = mat.name or graph.new_name(f"{prefix}-STATE-STORE")
        key_serde = mat.key_serde or self.key_serde
        vs = mat.value_serde or value_serde
        builder = kv_store_builder(store_name, mat, key_serde, vs)
        inner = self.value_serde or DEFAULT_VALUE_SERDE
        upstream = self.stream._through_repartition(
            store_name, key_serde, ChangeSerde(inner), key_filter=False
        )
        graph.add_node(GraphNode(node_name, lambda: make(node_name, store_name), [upstream.node]))
        graph.add_store(builder, node_name)
        return KTable(
            self.stream.builder,
            node_name,
            key_serde,
            vs,
            store_name=store_name,
            sources=upstream.sources,
        )

    def count(self, *, materialized: Materialized | None = None) -> KTable:
        return self._add(
            "KTABLE-AGGREGATE",
            materialized,
            serdes.LONG,
            lambda n, s: TableAggregateNode(n, s, _zero, _count_adder, _count_subtractor),
        )

    def reduce(
        self,
        adder: Callable[[Any, Any], Any],
        subtractor: Callable[[Any, Any], Any],
        *,
        materialized: Materialized | None = None,
    ) -> KTable:
        if not callable(adder) or not callable(subtractor):
            raise TopologyError("reduce() needs adder(agg, value) and subtractor(agg, value).")
        return self._add(
            "KTABLE-REDUCE",
            materialized,
            self.value_serde,
            lambda n, s: TableReduceNode(n, s, adder, subtractor),
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        adder: Callable[[Any, Any, Any], Any],
        subtractor: Callable[[Any, Any, Any], Any],
        *,
        materialized: Materialized | None = None,
    ) -> KTable:
        if not (callable(initializer) and callable(adder) and callable(subtractor)):
            raise TopologyError(
                "aggregate() needs initializer(), adder(key, value, agg) and "
                "subtractor(key, value, agg)."
            )
        return self._add(
            "KTABLE-AGGREGATE",
            materialized,
            None,
            lambda n, s: TableAggregateNode(n, s, initializer, adder, subtractor),
        )
