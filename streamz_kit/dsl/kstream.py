"""`KStream`: an unbounded stream of records, each an independent event."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from streamz_kit.dsl.async_ops import add_async
from streamz_kit.dsl.branched import BranchedKStream
from streamz_kit.dsl.checks import check_callable
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.repartition import add_repartition
from streamz_kit.dsl.store_factory import kv_store_builder
from streamz_kit.errors import TopologyError
from streamz_kit.processor.io import SinkNode
from streamz_kit.processor.stateless import (
    FilterNode,
    FlatMapNode,
    FlatMapValuesNode,
    MapNode,
    MapValuesNode,
    PassThroughNode,
    PeekNode,
    SelectKeyNode,
)
from streamz_kit.processor.table import TableSourceNode
from streamz_kit.processor.versioned import VersionedTableSourceNode
from streamz_kit.topology.graph import GraphNode, RepartitionTopic

if TYPE_CHECKING:
    from streamz_kit.dsl.builder import StreamsBuilder
    from streamz_kit.dsl.grouped import KGroupedStream
    from streamz_kit.dsl.ktable import KTable


class KStream:
    """A record stream. Every method returns a new KStream (or table) and runs nothing."""

    def __init__(
        self,
        builder: StreamsBuilder,
        node: str,
        key_serde: Any,
        value_serde: Any,
        *,
        repartition_required: bool = False,
        sources: frozenset[str] = frozenset(),
    ) -> None:
        self.builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.repartition_required = repartition_required
        self.sources = sources

    @property
    def graph(self) -> Any:
        return self.builder.graph

    def _add(
        self,
        prefix: str,
        make: Callable[[str], Any],
        *,
        name: str | None = None,
        key_serde: Any = "inherit",
        value_serde: Any = "inherit",
        key_changed: bool = False,
        parents: list[str] | None = None,
        sources: frozenset[str] | None = None,
    ) -> KStream:
        node_name = name or self.graph.new_name(prefix)
        self.graph.add_node(GraphNode(node_name, lambda: make(node_name), parents or [self.node]))
        return KStream(
            self.builder,
            node_name,
            self.key_serde if key_serde == "inherit" else key_serde,
            self.value_serde if value_serde == "inherit" else value_serde,
            repartition_required=self.repartition_required or key_changed,
            sources=self.sources if sources is None else sources,
        )

    # -- stateless -------------------------------------------------------------------
    def filter(self, predicate: Callable[[Any, Any], bool], *, name: str | None = None) -> KStream:
        """Keep records for which `predicate(key, value)` is true."""
        check_callable(predicate, "filter")
        return self._add("KSTREAM-FILTER", lambda n: FilterNode(n, predicate, False), name=name)

    def filter_not(
        self, predicate: Callable[[Any, Any], bool], *, name: str | None = None
    ) -> KStream:
        """Drop records for which `predicate(key, value)` is true."""
        check_callable(predicate, "filter_not")
        return self._add("KSTREAM-FILTER", lambda n: FilterNode(n, predicate, True), name=name)

    def map(
        self, mapper: Callable[[Any, Any], tuple[Any, Any]], *, name: str | None = None
    ) -> KStream:
        """Replace each record by `mapper(key, value) -> (new_key, new_value)`."""
        check_callable(mapper, "map")
        return self._add(
            "KSTREAM-MAP",
            lambda n: MapNode(n, mapper),
            name=name,
            key_serde=None,
            value_serde=None,
            key_changed=True,
        )

    def map_values(
        self, mapper: Callable[..., Any], *, with_key: bool = False, name: str | None = None
    ) -> KStream:
        """Replace each value by `mapper(value)` (or `mapper(key, value)` with `with_key=True`,
        Kafka's ValueMapperWithKey); the key, and so the partitioning, stays."""
        check_callable(mapper, "map_values")
        return self._add(
            "KSTREAM-MAPVALUES",
            lambda n: MapValuesNode(n, mapper, with_key),
            name=name,
            value_serde=None,
        )

    def flat_map(
        self, mapper: Callable[[Any, Any], Iterable[tuple[Any, Any]]], *, name: str | None = None
    ) -> KStream:
        """Replace each record by zero or more `(key, value)` pairs."""
        check_callable(mapper, "flat_map")
        return self._add(
            "KSTREAM-FLATMAP",
            lambda n: FlatMapNode(n, mapper),
            name=name,
            key_serde=None,
            value_serde=None,
            key_changed=True,
        )

    def flat_map_values(
        self, mapper: Callable[[Any], Iterable[Any]], *, name: str | None = None
    ) -> KStream:
        """Replace each value by zero or more values, keeping the key."""
        check_callable(mapper, "flat_map_values")
        return self._add(
            "KSTREAM-FLATMAPVALUES",
            lambda n: FlatMapValuesNode(n, mapper, False),
            name=name,
            value_serde=None,
        )

    def select_key(self, key_fn: Callable[[Any, Any], Any], *, name: str | None = None) -> KStream:
        """Set a new key `key_fn(key, value)`; a later grouping or join repartitions."""
        check_callable(key_fn, "select_key")
        return self._add(
            "KSTREAM-KEY-SELECT",
            lambda n: SelectKeyNode(n, key_fn),
            name=name,
            key_serde=None,
            key_changed=True,
        )

    def peek(self, action: Callable[[Any, Any], Any], *, name: str | None = None) -> KStream:
        """Call `action(key, value)` for its side effect and pass the record on unchanged."""
        check_callable(action, "peek")
        return self._add("KSTREAM-PEEK", lambda n: PeekNode(n, action), name=name)

    def foreach(self, action: Callable[[Any, Any], Any], *, name: str | None = None) -> None:
        """Call `action(key, value)` for every record; ends the stream."""
        check_callable(action, "foreach")
        self._add("KSTREAM-FOREACH", lambda n: PeekNode(n, action), name=name)

    def map_values_async(
        self,
        fn: Callable[..., Any],
        *,
        max_in_flight: int = 64,
        timeout: float | None = None,
        retries: int = 0,
        backoff: float = 0.1,
        with_key: bool = False,
        name: str | None = None,
    ) -> KStream:
        """`await fn(value)` (or `fn(key, value)`) per record; the result is the new value.
        A key's records complete in input order; up to `max_in_flight` calls overlap;
        `timeout` (s) per call; `retries` with exponential `backoff` (s). processor/async_ops.py."""
        return add_async(self, "map", fn, name, with_key, max_in_flight, timeout, retries, backoff)

    def flat_map_values_async(
        self,
        fn: Callable[..., Any],
        *,
        max_in_flight: int = 64,
        timeout: float | None = None,
        retries: int = 0,
        backoff: float = 0.1,
        with_key: bool = False,
        name: str | None = None,
    ) -> KStream:
        """As map_values_async, but `fn` returns an iterable of new values (None: none)."""
        return add_async(
            self, "flat_map", fn, name, with_key, max_in_flight, timeout, retries, backoff
        )

    def foreach_async(
        self,
        fn: Callable[..., Any],
        *,
        max_in_flight: int = 64,
        timeout: float | None = None,
        retries: int = 0,
        backoff: float = 0.1,
        with_key: bool = False,
        name: str | None = None,
    ) -> None:
        """`await fn(value)` (or `fn(key, value)`) per record for its effect; ends the
        stream. A commit happens only after the calls of its records completed."""
        add_async(self, "foreach", fn, name, with_key, max_in_flight, timeout, retries, backoff)

    def merge(self, other: KStream, *, name: str | None = None) -> KStream:
        """One stream holding the records of both, in the order they are processed."""
        if not isinstance(other, KStream):
            raise TopologyError(f"merge() takes a KStream, not {type(other).__name__}.")
        if other.builder is not self.builder:
            raise TopologyError("merge() needs two streams from the same StreamsBuilder.")
        same_keys = self.key_serde is other.key_serde
        same_values = self.value_serde is other.value_serde
        return self._add(
            "KSTREAM-MERGE",
            lambda n: PassThroughNode(n),
            name=name,
            parents=[self.node, other.node],
            key_serde=self.key_serde if same_keys else None,
            value_serde=self.value_serde if same_values else None,
            key_changed=other.repartition_required,
            sources=self.sources | other.sources,
        )

    def split(self, *, name: str = "") -> BranchedKStream:
        """Route each record to the first branch whose predicate holds."""
        return BranchedKStream(self, name)

    # -- sinks and repartitioning ---------------------------------------------------------
    def to(
        self,
        topic: str | Callable[[Any, Any], str],
        *,
        key_serde: Any = None,
        value_serde: Any = None,
        partitioner: Callable[[str, Any, Any, int], int | None] | None = None,
        name: str | None = None,
    ) -> None:
        """Write every record to `topic`, or to the topic `topic(key, value)` returns."""
        from streamz_kit.dsl.store_factory import DEFAULT_KEY_SERDE, DEFAULT_VALUE_SERDE

        ks = key_serde or self.key_serde or DEFAULT_KEY_SERDE
        vs = value_serde or self.value_serde or DEFAULT_VALUE_SERDE
        if isinstance(topic, str):
            if not topic:
                raise TopologyError("to() needs a non-empty topic name.")
            fixed, chooser = topic, None
        elif callable(topic):
            fixed, chooser = None, topic
        else:
            raise TopologyError("to() takes a topic name or a function (key, value) -> topic.")
        node_name = name or self.graph.new_name("KSTREAM-SINK")
        self.graph.add_node(
            GraphNode(
                node_name,
                lambda: SinkNode(node_name, fixed, ks, vs, chooser, partitioner),
                [self.node],
                kind="sink",
                sink_topic=fixed,
            )
        )

    def repartition(
        self,
        *,
        name: str | None = None,
        num_partitions: int | None = None,
        key_serde: Any = None,
        value_serde: Any = None,
    ) -> KStream:
        """Write through a repartition topic so records are partitioned by their current key."""
        base = name or self.graph.new_name("KSTREAM-REPARTITION")
        return self._through_repartition(
            base, key_serde or self.key_serde, value_serde or self.value_serde, num_partitions
        )

    def _through_repartition(
        self,
        base: str,
        key_serde: Any,
        value_serde: Any,
        num_partitions: int | None = None,
        *,
        implicit: bool = False,
        key_filter: bool = True,
    ) -> KStream:
        """Write through `<base>-repartition` and read it back (dsl/repartition.py adds the
        nodes; `implicit` and `key_filter` are explained there)."""
        topic = add_repartition(
            self,
            base,
            key_serde,
            value_serde,
            num_partitions,
            implicit=implicit,
            key_filter=key_filter,
        )
        return self._read_repartition(topic)

    def _read_repartition(self, topic: RepartitionTopic) -> KStream:
        source = topic.source
        assert source is not None  # every repartition topic the DSL adds has its source
        return KStream(
            self.builder, source, topic.key_serde, topic.value_serde, sources=frozenset([source])
        )

    # -- grouping and tables -------------------------------------------------------------
    def group_by_key(self, *, key_serde: Any = None, value_serde: Any = None) -> KGroupedStream:
        """Group by the current key (repartitioning first if an earlier step changed it)."""
        from streamz_kit.dsl.grouped import KGroupedStream

        return KGroupedStream(self, key_serde or self.key_serde, value_serde or self.value_serde)

    def group_by(
        self,
        key_fn: Callable[[Any, Any], Any],
        *,
        key_serde: Any = None,
        value_serde: Any = None,
    ) -> KGroupedStream:
        """Group by a new key `key_fn(key, value)`; always repartitions."""
        selected = self.select_key(key_fn)
        return selected.group_by_key(key_serde=key_serde, value_serde=value_serde)

    def to_table(
        self, *, materialized: Materialized | None = None, name: str | None = None
    ) -> KTable:
        """Read the stream as a table: each record upserts its key; a None value deletes it."""
        from streamz_kit.dsl.ktable import KTable

        stream = self
        mat = materialized or Materialized()
        key_serde = mat.key_serde or self.key_serde
        value_serde = mat.value_serde or self.value_serde
        if self.repartition_required:
            stream = self._through_repartition(
                self.graph.new_name("KSTREAM-TOTABLE"),
                key_serde,
                value_serde,
                implicit=True,
            )
        node_name = name or self.graph.new_name("KSTREAM-TOTABLE")
        store_name = mat.name or f"{node_name}-STATE-STORE"
        builder = kv_store_builder(store_name, mat, key_serde, value_serde)
        versioned = mat.store == "versioned"
        self.graph.add_node(
            GraphNode(
                node_name,
                lambda: (
                    VersionedTableSourceNode(node_name, store_name)
                    if versioned
                    else TableSourceNode(node_name, store_name)
                ),
                [stream.node],
            )
        )
        self.graph.add_store(builder, node_name)
        table = KTable(
            self.builder,
            node_name,
            key_serde,
            value_serde,
            store_name=store_name,
            sources=stream.sources,
            queryable=materialized is not None and materialized.name is not None,
        )
        table.versioned = versioned
        return table

    # -- Processor API -----------------------------------------------------------------
    def process(
        self,
        processor_factory: Callable[[], Any],
        *,
        stores: Iterable[str] = (),
        name: str | None = None,
    ) -> KStream:
        """Run a user `Processor` (a fresh one per task from `processor_factory()`)."""
        from streamz_kit.processor.user import UserProcessorNode

        check_callable(processor_factory, "process")
        store_names = list(stores)
        result = self._add(
            "KSTREAM-PROCESSOR",
            lambda n: UserProcessorNode(n, processor_factory, store_names),
            name=name,
            key_serde=None,
            value_serde=None,
            key_changed=True,
        )
        for store in store_names:
            self.graph.connect_store(store, result.node)
        return result

    # -- joins (nodes built in streamz_kit.dsl.joins) -----------------------------------
    def join(
        self,
        other: Any,
        joiner: Callable[..., Any],
        *rest: Callable[..., Any],
        windows: Any = None,
        name: str | None = None,
        grace: Any = None,
    ) -> KStream:
        """Inner join: `join(stream, joiner, windows=JoinWindows...)`, `join(table, joiner)`
        or `join(global_table, key_fn, joiner)`; `joiner(left_value, right_value)`.
        Against a versioned table, `grace=` holds stream records back that long so late
        table updates are seen (KIP-923)."""
        return self._join(other, (joiner, *rest), windows, "inner", name, grace)

    def left_join(
        self,
        other: Any,
        joiner: Callable[..., Any],
        *rest: Callable[..., Any],
        windows: Any = None,
        name: str | None = None,
        grace: Any = None,
    ) -> KStream:
        """Like `join`, but every left record yields a result (None for a missing right side)."""
        return self._join(other, (joiner, *rest), windows, "left", name, grace)

    def outer_join(
        self,
        other: KStream,
        joiner: Callable[[Any, Any], Any],
        *,
        windows: Any = None,
        name: str | None = None,
    ) -> KStream:
        """Stream-stream outer join: unmatched records of either side yield a result."""
        return self._join(other, (joiner,), windows, "outer", name, None)

    def _join(
        self,
        other: Any,
        args: tuple[Any, ...],
        windows: Any,
        kind: str,
        name: str | None,
        grace: Any,
    ) -> KStream:
        """Tell dsl/joins.py which kind of side `other` is, and wrap the node it adds."""
        from streamz_kit.dsl.joins import join_stream
        from streamz_kit.dsl.ktable import GlobalKTable, KTable

        sides = ((KStream, "stream"), (KTable, "table"), (GlobalKTable, "global"))
        side = next((side for cls, side in sides if isinstance(other, cls)), None)
        joined = join_stream(
            self, other, side, args, windows=windows, kind=kind, name=name, grace=grace
        )
        return KStream(
            self.builder,
            joined.node,
            joined.key_serde,
            None,
            repartition_required=joined.repartition_required,
            sources=joined.sources,
        )

    def _join_input(self) -> KStream:
        """This stream as a join reads it: through a repartition topic if its key changed,
        the same topic for every join of it (GraphNode.join_repartition keeps its name)."""
        if not self.repartition_required:
            return self
        node = self.graph.nodes[self.node]
        if node.join_repartition is not None:
            return self._read_repartition(self.graph.repartition_topics[node.join_repartition])
        stream = self._through_repartition(
            self.node, self.key_serde, self.value_serde, implicit=True
        )
        node.join_repartition = f"{self.node}-repartition"
        return stream
