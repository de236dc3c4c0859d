"""Windowed grouped streams: `KGroupedStream.windowed_by(...)` and their aggregations.

Each aggregation adds one node and one window (or session) store, repartitioning first if
the key changed upstream, and returns a KTable keyed by `Windowed(key, window)` whose key
serde is the matching windowed serde, so `to_stream().to(topic)` needs no extra serde.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from streamz_kit import serdes
from streamz_kit.dsl.checks import check_function
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.store_factory import resolve_serdes, window_store_builder
from streamz_kit.emit import EmitStrategy
from streamz_kit.errors import TopologyError
from streamz_kit.processor.final_results import FinalResultsNode
from streamz_kit.processor.windowed import (
    NO_INITIAL,
    SessionWindowAggregateNode,
    SlidingWindowAggregateNode,
    TimeWindowAggregateNode,
    count_aggregator,
    count_initializer,
    count_merger,
    reduce_as_aggregator,
    reduce_merger,
)
from streamz_kit.serdes_windowed import SessionWindowedSerde, TimeWindowedSerde
from streamz_kit.windows import SessionWindows, SlidingWindows, TimeWindows

if TYPE_CHECKING:
    # Part of the grammar (docs/architecture.md): the windowed streams return KTables, and
    # KGroupedStream._finish makes them.
    from streamz_kit.dsl.grouped import KGroupedStream
    from streamz_kit.dsl.ktable import KTable

__all__ = ["SessionWindowedKStream", "TimeWindowedKStream", "windowed_by"]


def windowed_by(
    grouped: KGroupedStream, windows: TimeWindows | SlidingWindows | SessionWindows
) -> TimeWindowedKStream | SessionWindowedKStream:
    """Dispatch on the window kind, as Kafka's overloaded windowedBy does."""
    if isinstance(windows, SessionWindows):
        return SessionWindowedKStream(grouped, windows)
    if isinstance(windows, (TimeWindows, SlidingWindows)):
        return TimeWindowedKStream(grouped, windows)
    raise TopologyError(
        f"windowed_by() takes TimeWindows, SlidingWindows or SessionWindows, not "
        f"{type(windows).__name__}. JoinWindows are for stream-stream joins."
    )


class _Windowed:
    kind = "window"

    def __init__(self, grouped: KGroupedStream, windows: Any) -> None:
        self.grouped = grouped
        self.windows = windows
        self.emit: EmitStrategy = EmitStrategy.on_window_update()

    def emit_strategy(self, strategy: EmitStrategy) -> Self:
        """`EmitStrategy.on_window_close()`: forward only each window's final result, when
        it closes (KIP-825), instead of every update; returns this windowed stream."""
        if not isinstance(strategy, EmitStrategy):
            raise TopologyError(
                "emit_strategy() takes EmitStrategy.on_window_close() or "
                f"EmitStrategy.on_window_update(), not {type(strategy).__name__}."
            )
        self.emit = strategy
        return self

    def _window_size(self) -> int | None:
        return None

    def _key_serde(self, inner: Any) -> Any:
        return SessionWindowedSerde(inner)

    def _build(
        self,
        prefix: str,
        materialized: Materialized | None,
        value_serde: Any,
        make: Callable[[str, str], Any],
    ) -> KTable:
        stream = self.grouped.stream
        graph = stream.graph
        mat = materialized or Materialized()
        node_name = graph.new_name(prefix)
        store_name = mat.name or graph.new_name(f"{prefix}-STATE-STORE")
        key_serde = mat.key_serde or self.grouped.key_serde
        upstream = stream
        if upstream.repartition_required:
            upstream = upstream._through_repartition(
                store_name, key_serde, self.grouped.value_serde, implicit=True
            )
        ks, vs = resolve_serdes(key_serde, mat.value_serde or value_serde)
        builder = window_store_builder(
            store_name,
            self.kind,
            self.windows,
            mat,
            ks,
            vs,
            self._window_size(),
            time_ordered=self.kind == "window" and self.emit.on_close,
        )
        if self.emit.on_close:
            windows = self.windows

            def factory() -> Any:
                return FinalResultsNode(make(node_name, store_name), windows)
        else:

            def factory() -> Any:
                return make(node_name, store_name)

        return self.grouped._finish(
            node_name,
            store_name,
            upstream,
            builder,
            self._key_serde(ks),
            vs,
            factory,
            windows=self.windows,
        )


class TimeWindowedKStream(_Windowed):
    """A grouped stream over tumbling, hopping or sliding windows."""

    def _window_size(self) -> int:
        return int(self.windows.size_ms)

    def _key_serde(self, inner: Any) -> Any:
        return TimeWindowedSerde(inner, self._window_size())

    def _node(self, initializer: Callable[[], Any], aggregator: Any) -> Callable[[str, str], Any]:
        windows = self.windows
        if isinstance(windows, SlidingWindows):
            return lambda n, s: SlidingWindowAggregateNode(n, s, windows, initializer, aggregator)
        return lambda n, s: TimeWindowAggregateNode(n, s, windows, initializer, aggregator)

    def count(self, *, materialized: Materialized | None = None) -> KTable:
        """Records per key and window (values are serdes.LONG)."""
        return self._build(
            "KSTREAM-AGGREGATE",
            materialized,
            serdes.LONG,
            self._node(count_initializer, count_aggregator),
        )

    def reduce(
        self, reducer: Callable[[Any, Any], Any], *, materialized: Materialized | None = None
    ) -> KTable:
        """Combine values per key and window with `reducer(agg, value)`."""
        check_function(reducer, "reduce()'s reducer(agg, value)")
        return self._build(
            "KSTREAM-REDUCE",
            materialized,
            self.grouped.value_serde,
            self._node(NO_INITIAL, reduce_as_aggregator(reducer)),
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        *,
        materialized: Materialized | None = None,
    ) -> KTable:
        """Fold values per key and window: `aggregator(key, value, agg)` from `initializer()`."""
        check_function(initializer, "aggregate()'s initializer()")
        check_function(aggregator, "aggregate()'s aggregator(key, value, agg)")
        return self._build(
            "KSTREAM-AGGREGATE", materialized, None, self._node(initializer, aggregator)
        )


class SessionWindowedKStream(_Windowed):
    """A grouped stream over activity sessions."""

    kind = "session"

    def _node(
        self, initializer: Callable[[], Any], aggregator: Any, merger: Any
    ) -> Callable[[str, str], Any]:
        windows = self.windows
        return lambda n, s: SessionWindowAggregateNode(
            n, s, windows, initializer, aggregator, merger
        )

    def count(self, *, materialized: Materialized | None = None) -> KTable:
        return self._build(
            "KSTREAM-AGGREGATE",
            materialized,
            serdes.LONG,
            self._node(count_initializer, count_aggregator, count_merger),
        )

    def reduce(
        self, reducer: Callable[[Any, Any], Any], *, materialized: Materialized | None = None
    ) -> KTable:
        check_function(reducer, "reduce()'s reducer(agg, value)")
        return self._build(
            "KSTREAM-REDUCE",
            materialized,
            self.grouped.value_serde,
            self._node(NO_INITIAL, reduce_as_aggregator(reducer), reduce_merger(reducer)),
        )

    def aggregate(
        self,
        initializer: Callable[[], Any],
        aggregator: Callable[[Any, Any, Any], Any],
        merger: Callable[[Any, Any, Any], Any],
        *,
        materialized: Materialized | None = None,
    ) -> KTable:
        """Fold values per session; `merger(key, agg1, agg2)` joins sessions a record bridges."""
        check_function(initializer, "aggregate()'s initializer()")
        check_function(aggregator, "aggregate()'s aggregator(key, value, agg)")
        check_function(merger, "aggregate()'s merger(key, agg1, agg2)")
        return self._build(
            "KSTREAM-AGGREGATE", materialized, None, self._node(initializer, aggregator, merger)
        )
