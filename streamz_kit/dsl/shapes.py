"""What the DSL's helper modules read of the grammar's streams and tables.

The grammar (builder, kstream, ktable, grouped, windowed, cogrouped) calls helpers (joins,
suppress, versioned joins, repartitions) that add nodes to the graph and return their names;
the grammar wraps those names in the KStream or KTable it returns. The helpers see the
grammar's objects only through these protocols, so they never import the grammar and stay
out of its import cycle.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["StreamShape", "TableShape"]


class StreamShape(Protocol):
    """A KStream as helpers read it."""

    @property
    def builder(self) -> Any: ...

    @property
    def graph(self) -> Any: ...

    @property
    def node(self) -> str: ...

    @property
    def key_serde(self) -> Any: ...

    @property
    def value_serde(self) -> Any: ...

    @property
    def sources(self) -> frozenset[str]: ...

    @property
    def repartition_required(self) -> bool: ...


class TableShape(Protocol):
    """A KTable as helpers read it."""

    @property
    def builder(self) -> Any: ...

    @property
    def graph(self) -> Any: ...

    @property
    def node(self) -> str: ...

    @property
    def key_serde(self) -> Any: ...

    @property
    def value_serde(self) -> Any: ...

    @property
    def sources(self) -> frozenset[str]: ...

    @property
    def store_name(self) -> str | None: ...

    @property
    def parent(self) -> Any: ...

    def enable_send_old_values(self) -> None: ...
