"""Partition counts for every topic a topology touches, and the internal topics to create.

Repartition topics take the largest partition count among the source topics of the
sub-topology that writes them (Kafka Streams' rule) unless the user fixed one; since that
sub-topology may itself read repartition topics, counts are resolved to a fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamz_kit.config import AppConfig
from streamz_kit.errors import TopologyError, UnknownTopicError
from streamz_kit.topology.topology import Topology
from streamz_kit.transport.port import Admin, TopicSpec


@dataclass
class TopologyMetadata:
    partitions: dict[str, int] = field(default_factory=dict)  # resolved (prefixed) topic names
    task_partitions: dict[int, int] = field(default_factory=dict)  # sub-topology id -> tasks
    internal_specs: list[TopicSpec] = field(default_factory=list)
    output_specs: list[TopicSpec] = field(default_factory=list)  # missing output topics

    def count(self, topic: str) -> int:
        return self.partitions.get(topic, 1)


async def resolve_metadata(topology: Topology, config: AppConfig, admin: Admin) -> TopologyMetadata:
    meta = TopologyMetadata()
    user_topics = topology.user_source_topics
    counts = await admin.partition_counts(user_topics)
    missing = [t for t in user_topics if t not in counts]
    if missing:
        raise UnknownTopicError(
            f"Input topic(s) {missing} do not exist on {config.broker}. Create them first "
            "(e.g. `streamz-kit produce TOPIC` creates a topic on the embedded broker), or "
            "check the topic names in your topology."
        )
    graph = topology.graph
    repart: dict[str, int] = {
        name: spec.num_partitions
        for name, spec in graph.repartition_topics.items()
        if spec.num_partitions is not None
    }
    repart.update(_copartitioned(topology, counts, repart))
    base = dict(counts)
    for _ in range(len(graph.repartition_topics) + 1):
        changed = False
        for sub in topology.subtopologies:
            sources = [base.get(t) if t in base else repart.get(t) for t in sub.source_topics]
            known = [c for c in sources if c is not None]
            if not known:
                continue
            width = max(known)
            for topic in sub.sink_topics:
                if topic in graph.repartition_topics and topic not in repart:
                    repart[topic] = width
                    changed = True
        if not changed:
            break
    _align_internal_groups(topology, counts, repart)
    unresolved = [t for t in graph.repartition_topics if t not in repart]
    if unresolved:
        raise TopologyError(
            f"Could not work out the partition count of repartition topic(s) {unresolved}; "
            "pass num_partitions= to repartition()."
        )
    for topic, count in counts.items():
        meta.partitions[topic] = count
    for topic, count in repart.items():
        meta.partitions[config.internal_topic(topic)] = count
        meta.internal_specs.append(
            # Kafka Streams' repartition topic configs: kept until purged (runtime/purge.py),
            # never by age, so a stopped application loses nothing it has not processed.
            TopicSpec(
                config.internal_topic(topic),
                count,
                {"cleanup.policy": "delete", "retention.ms": "-1"},
            )
        )
    sink_topics = [t for t in topology.user_sink_topics if t not in counts]
    sink_counts = await admin.partition_counts(sink_topics) if sink_topics else {}
    for topic in config.handlers.dead_letter_topics():
        existing = await admin.partition_counts([topic])
        if topic in existing:
            meta.partitions[topic] = existing[topic]
        else:
            meta.partitions[topic] = 1
            meta.output_specs.append(TopicSpec(topic, 1))
    for sub in topology.subtopologies:
        widths = [counts.get(t) or repart[t] for t in sub.source_topics]
        meta.task_partitions[sub.id] = max(widths) if widths else 1
        for topic in sub.sink_topics:
            if topic in graph.repartition_topics or topic in counts:
                continue
            if topic in sink_counts:
                meta.partitions[topic] = sink_counts[topic]
            elif topic not in meta.partitions:
                # A missing output topic is created with the writer's task count, so the
                # embedded broker needs no setup (as Kafka's auto-create would do).
                meta.partitions[topic] = meta.task_partitions[sub.id]
                meta.output_specs.append(TopicSpec(topic, meta.task_partitions[sub.id]))
        for group in sub.copartition_groups:
            sizes = {t: counts.get(t) or repart.get(t) for t in group}
            if len(set(sizes.values())) > 1:
                raise TopologyError(
                    f"Topics {sizes} are joined, so they must have the same number of "
                    "partitions (co-partitioning). Recreate one with the other's partition "
                    "count, or call repartition(num_partitions=...) on one side before the join."
                )
        for store in sub.stores:
            builder = topology.store_builder(store)
            if store in graph.global_stores or not builder.logging:
                continue
            meta.internal_specs.append(
                TopicSpec(
                    config.changelog_topic(store),
                    meta.task_partitions[sub.id],
                    changelog_config(builder.kind, builder.retention_ms),
                )
            )
            meta.partitions[config.changelog_topic(store)] = meta.task_partitions[sub.id]
    return meta


def _copartitioned(
    topology: Topology, counts: dict[str, int], fixed: dict[str, int]
) -> dict[str, int]:
    """An internal topic joined with input topics takes their partition count (Kafka's
    CopartitionedTopicsEnforcer), e.g. a foreign-key join's subscription topic takes the
    right table's count although the left side writes it."""
    graph = topology.graph
    out: dict[str, int] = {}
    for group in graph.copartition_groups:
        topics = [t for n in group for t in graph.nodes[n].topics]
        known = [counts[t] for t in topics if t in counts]
        if not known:
            continue
        for topic in topics:
            if topic in graph.repartition_topics and topic not in fixed:
                out[topic] = max(known)
    return out


def _align_internal_groups(
    topology: Topology, counts: dict[str, int], repart: dict[str, int]
) -> None:
    """A co-partition group of internal topics only (e.g. a foreign-key join whose left
    table comes out of a repartition: its response topic is written by the right side)
    takes the largest count among them, as Kafka's enforcer does; user-fixed counts stay."""
    graph = topology.graph
    for group in graph.copartition_groups:
        topics = [t for n in group for t in graph.nodes[n].topics]
        if any(t in counts for t in topics):
            continue
        known = [repart[t] for t in topics if t in repart]
        if not known:
            continue
        for topic in topics:
            spec = graph.repartition_topics.get(topic)
            if spec is not None and spec.num_partitions is None:
                repart[topic] = max(known)


# Kafka Streams' windowstore.changelog.additional.retention.ms: a window or session changelog
# keeps its records this long past the store's own retention, then deletes them.
CHANGELOG_ADDITIONAL_RETENTION_MS = 86_400_000


def changelog_config(kind: str, retention_ms: int | None) -> dict[str, str]:
    """Kafka Streams' changelog configs: compacted; window and session stores' changelogs
    are also deleted by age (`compact,delete`), or they would keep every window forever."""
    if kind in ("window", "session") and retention_ms is not None:
        return {
            "cleanup.policy": "compact,delete",
            "retention.ms": str(retention_ms + CHANGELOG_ADDITIONAL_RETENTION_MS),
        }
    return {"cleanup.policy": "compact"}


async def create_internal_topics(meta: TopologyMetadata, admin: Admin) -> None:
    """Create missing internal topics; refuse existing ones with the wrong partition count."""
    names = [spec.name for spec in meta.internal_specs]
    existing = await admin.partition_counts(names)
    wrong = {
        spec.name: (existing[spec.name], spec.partitions)
        for spec in meta.internal_specs
        if spec.name in existing and existing[spec.name] != spec.partitions
    }
    if wrong:
        details = ", ".join(f"{t} has {have} but needs {need}" for t, (have, need) in wrong.items())
        raise TopologyError(
            f"Internal topics have the wrong partition count ({details}). The input topics "
            "changed size since the application last ran: run `streamz-kit reset APP` to "
            "delete the internal topics and rebuild the state."
        )
    await admin.create_topics([s for s in meta.internal_specs if s.name not in existing])
    if meta.output_specs:
        await admin.create_topics(meta.output_specs)
