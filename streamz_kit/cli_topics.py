"""`streamz-kit topics`: list topics with offsets, sizes and configs; create; alter configs.

    streamz-kit topics                                    # list
    streamz-kit topics --create clicks --partitions 4 --config retention.ms=86400000
    streamz-kit topics --alter clicks --config retention.bytes=1073741824
    streamz-kit topics --alter clicks --delete-config retention.bytes   # back to the default

Config names and values are Kafka's (`retention.ms`, `retention.bytes`, `cleanup.policy`,
...), so the same commands describe a topic on either broker.
"""

from __future__ import annotations

import asyncio

import click

from streamz_kit.errors import ConfigError, StreamzError
from streamz_kit.transport import connect
from streamz_kit.transport.port import Admin, PartitionState, TopicSpec

DEFAULT_BROKER = "embedded://.streamz"


def parse_configs(items: tuple[str, ...]) -> dict[str, str]:
    """`key=value` pairs from --config options, or a ConfigError naming the bad one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--config {item!r} is not key=value; write e.g. --config retention.ms=86400000."
            )
        out[key.strip()] = value.strip()
    return out


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


async def _list(admin: Admin) -> list[str]:
    names = sorted(await admin.list_topics())
    if not names:
        return ["No topics."]
    states = await admin.describe_partitions(names)
    configs = await admin.topic_configs(names)
    by_topic: dict[str, list[PartitionState]] = {}
    for state in states:
        by_topic.setdefault(state.topic, []).append(state)
    lines = []
    for name in names:
        parts = sorted(by_topic.get(name, []), key=lambda s: s.partition)
        sizes = [s.bytes for s in parts]
        known = None if any(b is None for b in sizes) else sum(b or 0 for b in sizes)
        line = (
            f"{name}\tpartitions={len(parts)}\tend_offsets={[s.end_offset for s in parts]}\t"
            f"records~{sum(s.end_offset - s.start_offset for s in parts)}\t"
            f"start_offsets={[s.start_offset for s in parts]}\t"
            f"bytes={sizes if known is not None else '?'}\tsize={_size(known)}"
        )
        config = configs.get(name)
        if config:
            line += "\tconfig: " + " ".join(f"{k}={v}" for k, v in sorted(config.items()))
        lines.append(line)
    return lines


async def _run(
    broker: str,
    create: str | None,
    alter: str | None,
    partitions: int,
    configs: dict[str, str],
    removed: tuple[str, ...],
) -> list[str]:
    transport = connect(broker)
    await transport.start()
    try:
        admin = transport.admin()
        try:
            if create is not None:
                if partitions < 1:
                    raise StreamzError("--partitions must be at least 1.")
                if create in await admin.partition_counts([create]):
                    raise StreamzError(
                        f"Topic {create!r} already exists on {broker}; change its configs with "
                        f"`streamz-kit topics --alter {create} --config key=value`."
                    )
                await admin.create_topics([TopicSpec(create, partitions, configs)])
                return [f"Created topic {create} with {partitions} partition(s)."]
            if alter is not None:
                if not configs and not removed:
                    raise StreamzError("--alter needs --config key=value or --delete-config key.")
                changes: dict[str, str | None] = dict(configs)
                changes.update({key: None for key in removed})
                await admin.alter_topic_config(alter, changes)
                return [f"Altered topic {alter}."]
            return await _list(admin)
        finally:
            await admin.close()
    finally:
        await transport.close()


@click.command()
@click.option("--broker", default=DEFAULT_BROKER, show_default=True)
@click.option("--create", metavar="TOPIC", help="Create this topic.")
@click.option("--alter", metavar="TOPIC", help="Change this topic's configs.")
@click.option(
    "--partitions",
    type=int,
    default=1,
    show_default=True,
    help="Partitions of the topic --create makes.",
)
@click.option(
    "--config",
    "config_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="A topic config (Kafka's names: retention.ms, retention.bytes, "
    "cleanup.policy, ...); repeat for several.",
)
@click.option(
    "--delete-config",
    "removed",
    multiple=True,
    metavar="KEY",
    help="With --alter: set this config back to its default.",
)
def topics(
    broker: str,
    create: str | None,
    alter: str | None,
    partitions: int,
    config_items: tuple[str, ...],
    removed: tuple[str, ...],
) -> None:
    """List topics (partitions, end and log start offsets, bytes, configs), or create one
    or change its configs."""
    if create is not None and alter is not None:
        raise StreamzError("Give --create or --alter, not both.")
    if (config_items or removed) and create is None and alter is None:
        raise StreamzError("--config and --delete-config go with --create TOPIC or --alter TOPIC.")
    configs = parse_configs(config_items)
    for line in asyncio.run(_run(broker, create, alter, partitions, configs, removed)):
        click.echo(line)
