"""`split()`'s branches: a record goes to the first branch whose predicate holds.

Kept beside the grammar rather than in it: the branch children are built as
`type(stream)(...)`, so this module needs nothing from kstream.py (no import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.dsl.checks import check_callable
from streamz_kit.errors import TopologyError
from streamz_kit.processor.stateless import BranchNode, PassThroughNode
from streamz_kit.topology.graph import GraphNode


class BranchedKStream:
    """The result of `split()`: add branches, then end with a default (or none)."""

    def __init__(self, stream: Any, prefix: str) -> None:
        self.stream = stream
        self.prefix = prefix
        self.node = stream.graph.new_name("KSTREAM-BRANCH")
        self._predicates: list[Callable[[Any, Any], bool]] = []
        self._names: list[str] = []
        self._children: list[str] = []
        self._default: str | None = None
        self._branches: dict[str, Any] = {}
        self._ended = False
        predicates, children = self._predicates, self._children
        stream.graph.add_node(
            GraphNode(
                self.node,
                lambda: BranchNode(
                    self.node, predicates, children[: len(predicates)], self._default
                ),
                [stream.node],
            )
        )

    def _child(self, branch_name: str) -> Any:
        child = self.stream.graph.new_name("KSTREAM-BRANCHCHILD")
        self.stream.graph.add_node(GraphNode(child, lambda: PassThroughNode(child), [self.node]))
        self._children.append(child)
        # type(stream): the KStream class, without importing the grammar from here.
        return type(self.stream)(
            self.stream.builder,
            child,
            self.stream.key_serde,
            self.stream.value_serde,
            repartition_required=self.stream.repartition_required,
            sources=self.stream.sources,
        )

    def branch(
        self, predicate: Callable[[Any, Any], bool], *, name: str | None = None
    ) -> BranchedKStream:
        if self._ended:
            raise TopologyError(
                "This split() already ended with default_branch()/no_default_branch()."
            )
        check_callable(predicate, "branch")
        branch_name = self.prefix + (name if name is not None else str(len(self._predicates) + 1))
        if branch_name in self._names:
            raise TopologyError(f"Branch name {branch_name!r} is used twice in this split().")
        self._predicates.append(predicate)
        self._names.append(branch_name)
        self._branches[branch_name] = self._child(branch_name)
        return self

    def default_branch(self, *, name: str | None = None) -> dict[str, Any]:
        branches = dict(self._branches)
        branch_name = self.prefix + (name if name is not None else "0")
        stream = self._child(branch_name)
        self._default = self._children[-1]
        branches[branch_name] = stream
        self._ended = True
        return branches

    def no_default_branch(self) -> dict[str, Any]:
        self._ended = True
        return dict(self._branches)
