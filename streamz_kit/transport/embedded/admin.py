"""Admin of the embedded broker: topics, offsets and groups, straight against the log."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from streamz_kit.errors import BrokerError
from streamz_kit.transport.embedded.grouplock import group_is_locked
from streamz_kit.transport.embedded.leases import group_members
from streamz_kit.transport.embedded.log import Log
from streamz_kit.transport.port import (
    Admin,
    OffsetSpec,
    PartitionState,
    TopicPartition,
    TopicSpec,
)


class EmbeddedAdmin(Admin):
    def __init__(self, log: Log) -> None:
        self._log = log

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        specs = list(specs)
        await self._log.db.awrite(lambda c: self._log.create_topics(c, specs))

    async def partition_counts(self, topics: Iterable[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in topics:
            info = self._log.topic(name, refresh=True)
            if info is not None:
                out[name] = info.partitions
        return out

    async def list_topics(self) -> list[str]:
        return self._log.list_topics()

    async def delete_topics(self, topics: Iterable[str]) -> None:
        names = list(topics)
        await self._log.db.awrite(lambda c: self._log.delete_topics(c, names))

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], spec: OffsetSpec
    ) -> dict[TopicPartition, int]:
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        if spec not in ("earliest", "latest"):
            raise BrokerError(f"list_offsets takes 'earliest' or 'latest', not {spec!r}.")
        offset_of = self._log.end_offset if spec == "latest" else self._log.earliest_offset

        def read(conn: sqlite3.Connection) -> dict[TopicPartition, int]:
            return {tp: offset_of(conn, tp) for tp in wanted}

        return self._log.db.read(read)

    async def committed_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return self._log.committed(group_id, partitions)

    async def alter_group_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        self._refuse_if_active(group_id, "change its offsets")
        offsets = dict(offsets)
        await self._log.db.awrite(lambda c: self._log.set_group_offsets(c, group_id, offsets))

    async def delete_group(self, group_id: str) -> None:
        self._refuse_if_active(group_id, "delete it")
        await self._log.db.awrite(
            lambda c: c.execute("DELETE FROM group_offsets WHERE group_id = ?", (group_id,))
        )

    async def group_is_active(self, group_id: str) -> bool:
        return self._active(group_id)

    def _active(self, group_id: str) -> bool:
        """A worker holds the group's lock, or members share it by leases (--workers N)."""
        return group_is_locked(self._log.groups_dir, group_id) or bool(self.group_members(group_id))

    def group_members(self, group_id: str) -> list[dict[str, object]]:
        """Live members sharing the group by leases, with the partitions each holds."""
        return self._log.db.read(lambda c: group_members(c, group_id))

    async def compact(self, topics: Iterable[str] | None = None) -> int:
        """Compact every partition of the given compacted topics (all compacted topics when
        None) now, instead of waiting for producers to trigger it; returns records deleted."""
        names = self._log.list_topics() if topics is None else list(topics)
        deleted = 0
        for name in names:
            info = self._log.topic(name, refresh=True)
            if info is None or not info.compacted:
                continue
            for partition in range(info.partitions):
                deleted += await self._log.compact_async(info, partition)
        return deleted

    async def delete_records(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        return await self._log.cleaner.delete_records(offsets)

    async def alter_topic_config(self, topic: str, changes: dict[str, str | None]) -> None:
        changes = dict(changes)
        await self._log.db.awrite(lambda c: self._log.alter_config(c, topic, changes))

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for name in topics:
            info = self._log.topic(name, refresh=True)
            if info is not None:
                out[name] = dict(info.config)
        return out

    async def describe_partitions(self, topics: Iterable[str]) -> list[PartitionState]:
        return self._log.describe(list(topics))

    async def log_file_bytes(self) -> int | None:
        return self._log.file_bytes()

    async def enforce_retention(self) -> int:
        """Apply every topic's retention now, instead of at the next check; returns how many
        records were deleted."""
        return (await self._log.cleaner.run()).records

    def _refuse_if_active(self, group_id: str, action: str) -> None:
        if self._active(group_id):
            raise BrokerError(
                f"A worker of application '{group_id}' is running on the embedded broker at "
                f"{self._log.path}; stop it before you {action}."
            )

    async def close(self) -> None:
        return None
