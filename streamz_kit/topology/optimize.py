"""Topology optimizations: separate passes over the logical graph, run by `build()`.

Kafka Streams applies them with `topology.optimization=all`; here they are on by default
and `StreamsBuilder(optimize=False)` (or `build(optimize=False)`) turns them off. Each pass
rewrites the graph in place before it is split into sub-topologies, so `describe()` shows
the result.

- `merge_repartition_topics`: several groupings / joins after the same key change share
  one repartition topic instead of writing every record once per branch.
- `reuse_source_topics`: a table read from a topic restores from that topic instead of
  writing a second copy of it to a changelog.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamz_kit.processor.node import Node
from streamz_kit.topology.graph import LogicalGraph, RepartitionTopic

__all__ = ["merge_repartition_topics", "optimize", "reuse_source_topics"]


def optimize(graph: LogicalGraph) -> LogicalGraph:
    """Every pass, in Kafka's order (source-topic reuse, then repartition merging)."""
    reuse_source_topics(graph)
    merge_repartition_topics(graph)
    return graph


def _serde_key(serde: Any) -> Any:
    return serde if _hashable(serde) else id(serde)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def merge_repartition_topics(graph: LogicalGraph) -> list[str]:
    """Merge the implicit repartition topics that hang off the same key-changing node.

    `s = stream.select_key(f); s.group_by_key().count(); s.group_by_key().reduce(r)` writes
    every record of `s` to two repartition topics; after this pass, to the first one only,
    whose source feeds both aggregations (Kafka's repartition-topic merging). Topics are
    merged only when their serdes and partition counts agree, so every branch reads the
    records as it did before. Returns the names of the topics that were removed.
    """
    groups: dict[tuple[Any, ...], list[RepartitionTopic]] = {}
    for topic in graph.repartition_topics.values():
        if not topic.mergeable or topic.entry is None or topic.sink is None:
            continue
        entry = graph.nodes.get(topic.entry)
        if entry is None or len(entry.parents) != 1:
            continue
        changed_by = entry.parents[0]
        group = (
            changed_by,
            _serde_key(topic.key_serde),
            _serde_key(topic.value_serde),
            topic.num_partitions,
        )
        groups.setdefault(group, []).append(topic)
    removed: list[str] = []
    for members in groups.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda t: graph.nodes[t.sink].order)  # type: ignore[index]
        keep, rest = members[0], members[1:]
        for topic in rest:
            _fold(graph, topic, keep)
            removed.append(topic.name)
        _rename_merged(graph, keep)
    return removed


def _rename_merged(graph: LogicalGraph, topic: RepartitionTopic) -> None:
    """Name the merged topic's nodes after it, as Kafka does: <topic>-filter/-sink/-source."""
    assert topic.sink is not None and topic.source is not None
    names: dict[str, str] = {topic.sink: f"{topic.name}-sink", topic.source: f"{topic.name}-source"}
    if topic.entry is not None and topic.entry != topic.sink:
        names[topic.entry] = f"{topic.name}-filter"
    if any(new in graph.nodes for new in names.values()):
        return  # a user already took one of these names: keep the generated ones
    renamed = {}
    for name, node in graph.nodes.items():
        new = names.get(name)
        if new is not None:
            node.name = new
            node.factory = _renaming(node.factory, new)
        node.parents = [names.get(p, p) for p in node.parents]
        renamed[node.name] = node
    graph.nodes = renamed
    graph.source_topics = {t: names.get(n, n) for t, n in graph.source_topics.items()}
    graph.copartition_groups = [{names.get(n, n) for n in g} for g in graph.copartition_groups]
    if topic.entry is not None:
        topic.entry = names.get(topic.entry, topic.entry)
    topic.sink = names[topic.sink]
    topic.source = names[topic.source]


def _renaming(factory: Callable[[], Node], name: str) -> Callable[[], Node]:
    def make() -> Node:
        node = factory()
        node.name = name
        return node

    return make


def _fold(graph: LogicalGraph, topic: RepartitionTopic, into: RepartitionTopic) -> None:
    """Remove `topic`'s filter, sink and source; its readers read `into`'s source."""
    assert topic.source is not None and into.source is not None and topic.sink is not None
    for node in graph.nodes.values():
        node.parents = [into.source if p == topic.source else p for p in node.parents]
    doomed = {topic.sink, topic.source}
    if topic.entry is not None and topic.entry != topic.sink:
        doomed.add(topic.entry)
    for name in doomed:
        graph.nodes.pop(name, None)
    graph.source_topics.pop(topic.name, None)
    del graph.repartition_topics[topic.name]
    graph.copartition_groups = [
        {into.source if n == topic.source else n for n in group}
        for group in graph.copartition_groups
    ]


def reuse_source_topics(graph: LogicalGraph) -> dict[str, str]:
    """Tables read straight from a user topic restore from it: no changelog topic.

    A store qualifies when the table-source node reading that topic (builder.table) is its
    only writer (other users are joins, which only read), so the topic holds exactly what
    the store holds. Kafka's caveat about
    asymmetric serdes does not apply: restoration replays each record through the store's
    serdes and typed put (state/restore.py `restore_from_source`), so the store ends up as
    processing would have left it; records processing skips (bad bytes, null keys) are
    skipped too. Sets and returns `graph.source_changelogs` (store -> topic).
    """
    reused: dict[str, str] = {}
    for store_name, users in graph.store_users.items():
        builder = graph.store_builders[store_name]
        if not builder.logging or builder.kind not in ("timestamped_kv", "versioned"):
            continue
        writer = graph.nodes.get(users[0]) if users else None
        if writer is None or not writer.name.startswith("KTABLE-SOURCE"):
            continue
        if any("JOIN" not in reader for reader in users[1:]):
            continue  # only joins may read it besides its writer (they never write)
        if len(writer.parents) != 1:
            continue
        source = graph.nodes[writer.parents[0]]
        if source.kind != "source" or source.internal or len(source.topics) != 1:
            continue
        if store_name in graph.global_stores:
            continue
        reused[store_name] = source.topics[0]
        # No changelog of its own: the runtime restores it from the source topic up to the
        # committed offset and keeps the source position as the store's position.
        graph.store_builders[store_name] = builder.with_logging_disabled()
    graph.source_changelogs.update(reused)
    return reused
