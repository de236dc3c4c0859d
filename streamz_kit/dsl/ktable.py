"""`KTable`: a changelog view, the latest value per key. Updates flow as Change(new, old)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamz_kit.dsl.materialized import Materialized
from streamz_kit.dsl.store_factory import kv_store_builder
from streamz_kit.errors import TopologyError
from streamz_kit.processor.table import (
    TableFilterNode,
    TableMapValuesNode,
    TableRepartitionMapNode,
    TableToStreamNode,
)
from streamz_kit.topology.graph import GraphNode

if TYPE_CHECKING:
    from streamz_kit.dsl.builder import StreamsBuilder
    from streamz_kit.dsl.grouped import KGroupedTable
    from streamz_kit.dsl.kstream import KStream


class KTable:
    def __init__(
        self,
        builder: StreamsBuilder,
        node: str,
        key_serde: Any,
        value_serde: Any,
        *,
        store_name: str | None,
        sources: frozenset[str],
        parent: KTable | None = None,
        queryable: bool | None = None,
    ) -> None:
        self.builder = builder
        self.node = node
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.store_name = store_name
        self.sources = sources
        self.parent = parent
        # Set when a downstream operation needs old values (group_by, joins), as Kafka's
        # enableSendingOldValues; read by the nodes when a task creates them.
        self.send_old_values = False
        # Materialized under a name the user gave (Kafka's queryableName); None for tables
        # that always hold their values in a store (aggregations, joins).
        self.queryable = queryable
        # A versioned table (Materialized(store="versioned")): Kafka's filter keeps forwarding
        # every tombstone below one (its "versioned semantics").
        self.versioned = False

    @property
    def graph(self) -> Any:
        return self.builder.graph

    @property
    def queryable_store_name(self) -> str | None:
        """The store to query with `app.store(name)`, or None if the table is not materialized."""
        return self.store_name

    def enable_send_old_values(self) -> None:
        self.send_old_values = True
        if self.parent is not None:
            self.parent.enable_send_old_values()

    def can_send_old_values(self) -> bool:
        """Kafka's `enableSendingOldValues(forceMaterialization=false)`: whether this table
        can give old values without being materialized only for that: it was materialized
        under a user-given name, always keeps a store (aggregations, joins), or is derived
        from a table that can. Kafka's table filter and map_values ask their parent this when
        they are built; when the answer is yes, a filter drops the needless tombstone for a
        rejected record whose previous value was rejected (or absent) too."""
        if self.queryable:
            return True
        if self.parent is not None:
            return self.parent.can_send_old_values()
        return self.queryable is None

    def _derive(
        self,
        prefix: str,
        make: Callable[[str, str | None, Callable[[], bool]], Any],
        materialized: Materialized | None,
        value_serde: Any,
        name: str | None,
    ) -> KTable:
        node_name = name or self.graph.new_name(prefix)
        unforced = self.can_send_old_values() and not self.versioned
        if unforced:
            self.enable_send_old_values()
        store_name = None
        vs = value_serde
        if materialized is not None:
            store_name = materialized.name or f"{node_name}-STATE-STORE"
            vs = materialized.value_serde or value_serde
        child = KTable(
            self.builder,
            node_name,
            self.key_serde,
            vs,
            store_name=store_name,
            sources=self.sources,
            parent=self,
            queryable=materialized is not None and materialized.name is not None,
        )
        child.versioned = materialized is not None and materialized.store == "versioned"
        self.graph.add_node(
            GraphNode(
                node_name,
                lambda: make(node_name, store_name, lambda: unforced or child.send_old_values),
                [self.node],
            )
        )
        if materialized is not None:
            assert store_name is not None
            builder = kv_store_builder(store_name, materialized, self.key_serde, vs)
            self.graph.add_store(builder, node_name)
        return child

    def filter(
        self,
        predicate: Callable[[Any, Any], bool],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Keep rows where `predicate(key, value)` holds; others become tombstones."""
        if not callable(predicate):
            raise TopologyError("filter() needs a predicate(key, value).")
        return self._derive(
            "KTABLE-FILTER",
            lambda n, s, old: TableFilterNode(n, predicate, False, s, old),
            materialized,
            self.value_serde,
            name,
        )

    def filter_not(
        self,
        predicate: Callable[[Any, Any], bool],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        if not callable(predicate):
            raise TopologyError("filter_not() needs a predicate(key, value).")
        return self._derive(
            "KTABLE-FILTER",
            lambda n, s, old: TableFilterNode(n, predicate, True, s, old),
            materialized,
            self.value_serde,
            name,
        )

    def map_values(
        self,
        mapper: Callable[[Any], Any],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Transform each value; tombstones stay tombstones."""
        if not callable(mapper):
            raise TopologyError("map_values() needs a function mapper(value).")
        return self._derive(
            "KTABLE-MAPVALUES",
            lambda n, s, old: TableMapValuesNode(n, mapper, False, s, old),
            materialized,
            None,
            name,
        )

    def to_stream(
        self, key_mapper: Callable[[Any, Any], Any] | None = None, *, name: str | None = None
    ) -> KStream:
        """The table's updates as a stream (a deletion arrives as a None value).

        `key_mapper(key, value)` gives each record a new key (Kafka's toStream(mapper):
        to_stream() followed by select_key, so a later grouping repartitions)."""
        from streamz_kit.dsl.kstream import KStream

        if key_mapper is not None and not callable(key_mapper):
            raise TopologyError("to_stream() key_mapper must be a function of (key, value).")
        node_name = name or self.graph.new_name("KTABLE-TOSTREAM")
        self.graph.add_node(GraphNode(node_name, lambda: TableToStreamNode(node_name), [self.node]))
        stream = KStream(
            self.builder, node_name, self.key_serde, self.value_serde, sources=self.sources
        )
        return stream if key_mapper is None else stream.select_key(key_mapper)

    def group_by(
        self,
        selector: Callable[[Any, Any], tuple[Any, Any]],
        *,
        key_serde: Any = None,
        value_serde: Any = None,
    ) -> KGroupedTable:
        """Re-group rows by `selector(key, value) -> (new_key, new_value)`; repartitions."""
        from streamz_kit.dsl.grouped import KGroupedTable
        from streamz_kit.dsl.kstream import KStream

        if not callable(selector):
            raise TopologyError("group_by() needs selector(key, value) -> (new_key, new_value).")
        self.enable_send_old_values()
        select_name = self.graph.new_name("KTABLE-SELECT")
        self.graph.add_node(
            GraphNode(
                select_name, lambda: TableRepartitionMapNode(select_name, selector), [self.node]
            )
        )
        selected = KStream(self.builder, select_name, key_serde, value_serde, sources=self.sources)
        return KGroupedTable(selected, key_serde, value_serde)

    def suppress(self, suppressed: Any, *, name: str | None = None) -> KTable:
        """Hold windowed updates back and emit one final result when each window closes."""
        from streamz_kit.dsl.suppress import add_suppress_node

        children: list[KTable] = []  # the node's factory asks the table made below
        node_name = add_suppress_node(self, suppressed, name, lambda: children[0].send_old_values)
        child = KTable(
            self.builder,
            node_name,
            self.key_serde,
            self.value_serde,
            store_name=None,
            sources=self.sources,
            parent=self,
        )
        children.append(child)
        return child

    # -- table-table joins (nodes built in streamz_kit.dsl.joins and dsl.fk_join) ----------
    def join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key: Callable[[Any], Any] | None = None,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Rows present in both tables, `joiner(left_value, right_value)`; updates both ways.
        With `foreign_key(value)`, a foreign-key join (KIP-213): each row joins the row of
        `other` whose key `foreign_key(value)` returns (None: no match)."""
        return self._join(other, joiner, "inner", foreign_key, materialized, name)

    def left_join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        foreign_key: Callable[[Any], Any] | None = None,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Every row of this table, with the other's value or None.
        With `foreign_key(value)`, a foreign-key join (KIP-213): each row joins the row of
        `other` whose key `foreign_key(value)` returns (None: no match)."""
        return self._join(other, joiner, "left", foreign_key, materialized, name)

    def outer_join(
        self,
        other: KTable,
        joiner: Callable[[Any, Any], Any],
        *,
        materialized: Materialized | None = None,
        name: str | None = None,
    ) -> KTable:
        """Rows of either table; the missing side is None."""
        return self._join(other, joiner, "outer", None, materialized, name)

    def _join(
        self,
        other: Any,
        joiner: Callable[[Any, Any], Any],
        kind: str,
        foreign_key: Callable[[Any], Any] | None,
        materialized: Materialized | None,
        name: str | None,
    ) -> KTable:
        """Check the other side is a table, and hand the helper the result's constructor."""
        from streamz_kit.dsl.fk_join import join_on_foreign_key
        from streamz_kit.dsl.joins import join_tables

        if foreign_key is not None:
            if not isinstance(other, KTable):
                raise TopologyError(
                    f"A foreign-key join takes another KTable, not {type(other).__name__}."
                )
            return join_on_foreign_key(
                self,
                other,
                joiner,
                foreign_key,
                left_join=kind == "left",
                result=lambda node, mat, store, sources: _ForeignKeyJoinedTable(
                    self, node, mat, store, sources
                ),
                materialized=materialized,
                name=name,
            )
        if not isinstance(other, KTable):
            raise TopologyError(
                f"A table join takes another KTable, not {type(other).__name__}; to join a "
                "stream with a table call stream.join(table, joiner)."
            )
        return join_tables(
            self,
            other,
            joiner,
            kind=kind,
            result=lambda node, value_serde, store, sources: _JoinedKTable(
                self, other, node, value_serde, store, sources
            ),
            materialized=materialized,
            name=name,
        )


class _JoinedKTable(KTable):
    """A join result: asking it for old values asks both joined tables for theirs."""

    def __init__(
        self,
        left: KTable,
        right: KTable,
        node: str,
        value_serde: Any,
        store_name: str | None,
        sources: frozenset[str],
    ) -> None:
        super().__init__(
            left.builder,
            node,
            left.key_serde,
            value_serde,
            store_name=store_name,
            sources=sources,
        )
        self.joined = (left, right)

    def enable_send_old_values(self) -> None:
        self.send_old_values = True
        for table in self.joined:
            table.enable_send_old_values()


class _ForeignKeyJoinedTable(KTable):
    """A foreign-key join's result. Unmaterialized, it gets its store (under the name Kafka
    would give it) when a downstream operation needs old values, as Kafka's KTableSource does."""

    def __init__(
        self,
        left: KTable,
        node: str,
        mat: Materialized,
        store_name: str | None,
        sources: frozenset[str],
    ) -> None:
        super().__init__(
            left.builder,
            node,
            left.key_serde,
            mat.value_serde,
            store_name=store_name,
            sources=sources,
        )
        self.mat = mat
        self.pending_store: str | None = None

    def materialize(self, store_name: str) -> None:
        self.store_name = store_name
        builder = kv_store_builder(store_name, self.mat, self.key_serde, self.value_serde)
        self.graph.add_store(builder, self.node)

    def enable_send_old_values(self) -> None:
        super().enable_send_old_values()
        if self.store_name is None and self.pending_store is not None:
            self.materialize(self.pending_store)


class GlobalKTable:
    """A table every task holds in full; joined by a key computed from the stream record."""

    def __init__(
        self, builder: StreamsBuilder, store_name: str, key_serde: Any, value_serde: Any
    ) -> None:
        self.builder = builder
        self.store_name = store_name
        self.key_serde = key_serde
        self.value_serde = value_serde

    @property
    def queryable_store_name(self) -> str:
        return self.store_name
