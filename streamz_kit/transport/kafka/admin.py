"""`Admin` on aiokafka's AIOKafkaAdminClient: topics, end offsets and consumer-group offsets.

aiokafka 0.14's admin client lacks list-offsets, alter-group-offsets and delete-groups;
those go through a group-less consumer, a throwaway assign-mode consumer and a raw
DeleteGroups request respectively.

Broker quirks handled here (see docs in DESIGN.md):
- Metadata requests are sent with auto topic creation off: Tansu (and Kafka with
  `auto.create.topics.enable`) would otherwise create any topic we merely ask about.
- Tansu reports only the configs set at creation, so every spec's configs are sent explicitly.
- Tansu's ListOffsets answer for "latest" is the base offset of the last batch plus one,
  short when that batch holds several records; `list_offsets` corrects it with the high
  watermark of one fetch. Callers deciding "caught up" should still keep reading until a
  fetch at the position returns nothing: records can arrive while they read, on any broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DeleteGroupsRequest
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.structs import TopicPartition as KTP

from streamz_kit.errors import BrokerError
from streamz_kit.transport.kafka._client import (
    KafkaSettings,
    broker_error,
    log,
    retrying,
    start_client,
)
from streamz_kit.transport.kafka.topic_configs import alter_topic_config, describe_topic_configs
from streamz_kit.transport.port import Admin, OffsetSpec, TopicPartition, TopicSpec

_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC = 3
_GROUP_NOT_FOUND = 69
_NON_EMPTY_GROUP = 68
_HIGHWATER_WAIT_S = 2.0
T = TypeVar("T")


class KafkaAdmin(Admin):
    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._client: AIOKafkaAdminClient | None = None
        self._offsets_reader: AIOKafkaConsumer | None = None

    async def _admin(self) -> AIOKafkaAdminClient:
        if self._client is None:
            client: AIOKafkaAdminClient = await start_client(
                self._settings,
                lambda: AIOKafkaAdminClient(**self._settings.admin_kwargs()),
                lambda c: c.start(),
                lambda c: c.close(),
                "admin client",
            )
            self._client = client
        return self._client

    async def _admin_call(self, call: Callable[[AIOKafkaAdminClient], Awaitable[T]]) -> T:
        return await call(await self._admin())

    async def _reader(self) -> AIOKafkaConsumer:
        if self._offsets_reader is None:
            reader: AIOKafkaConsumer = await start_client(
                self._settings,
                lambda: AIOKafkaConsumer(
                    **self._settings.consumer_kwargs(group_id=None, enable_auto_commit=False)
                ),
                lambda c: c.start(),
                lambda c: c.stop(),
                "offsets reader",
            )
            self._offsets_reader = reader
        return self._offsets_reader

    async def create_topics(self, specs: Sequence[TopicSpec]) -> None:
        if not specs:
            return
        new = [
            NewTopic(
                s.name,
                s.partitions,
                self._settings.replication_factor,
                topic_configs=dict(s.config),
            )
            for s in specs
        ]
        response = await retrying(
            self._settings,
            f"create topics {[s.name for s in specs]}",
            lambda: self._admin_call(lambda c: c.create_topics(new)),
        )
        for topic, code, message in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                raise BrokerError(
                    f"Kafka refused to create topic {topic!r} (error {code}: {message}); "
                    "check the partition count, replication_factor and configs."
                )

    async def _metadata(self, topics: list[str] | None) -> list[dict[str, Any]]:
        response = await retrying(
            self._settings,
            "describe topics",
            lambda: self._admin_call(
                lambda c: c._send_request(MetadataRequest(topics, allow_auto_topic_creation=False))
            ),
        )
        return list(response.to_object()["topics"])

    async def partition_counts(self, topics: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(topics))
        if not wanted:
            return {}
        counts: dict[str, int] = {}
        for t in await self._metadata(wanted):
            code, name, partitions = t["error_code"], t["topic"], t["partitions"]
            if code == 0 and partitions:
                counts[name] = len(partitions)
            elif code not in (0, _UNKNOWN_TOPIC):
                raise BrokerError(f"Kafka could not describe topic {name!r} (error {code}).")
        return counts

    async def list_topics(self) -> list[str]:
        topics = await self._metadata(None)
        return sorted(
            t["topic"] for t in topics if t["error_code"] == 0 and not t.get("is_internal")
        )

    async def delete_topics(self, topics: Iterable[str]) -> None:
        names = sorted(set(topics))
        if not names:
            return
        try:
            response = await (await self._admin()).delete_topics(names)
        except KafkaError as exc:
            raise broker_error(exc, f"delete topics {names}") from exc
        for topic, code in response.topic_error_codes:
            if code not in (0, _UNKNOWN_TOPIC):
                raise BrokerError(f"Kafka refused to delete topic {topic!r} (error {code}).")
        # Kafka answers once the controller accepted the deletion; brokers' metadata follow a
        # moment later. Wait for that, so a caller that recreates the topics (reset) does not
        # get "already exists" for a topic that is about to vanish.
        deadline = time.monotonic() + self._settings.connect_timeout_s
        while await self.partition_counts(names):
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"Kafka accepted the deletion of {names} but still lists some of them after "
                    f"{self._settings.connect_timeout_s:g} s; check the broker's log."
                )
            await asyncio.sleep(0.1)

    async def list_offsets(
        self, partitions: Iterable[TopicPartition], spec: OffsetSpec
    ) -> dict[TopicPartition, int]:
        """Earliest offsets, or end offsets corrected by the high watermark of a fetch."""
        tps = [KTP(tp.topic, tp.partition) for tp in partitions]
        if not tps:
            return {}
        reader = await self._reader()

        async def ask() -> dict[KTP, int]:
            if spec == "earliest":
                return dict(await reader.beginning_offsets(tps))
            return await self._end_offsets(reader, tps)

        found = await retrying(self._settings, f"list {spec} offsets", ask)
        return {TopicPartition(tp.topic, tp.partition): off for tp, off in found.items()}

    @staticmethod
    async def _end_offsets(reader: AIOKafkaConsumer, tps: list[KTP]) -> dict[KTP, int]:
        """ListOffsets, then the high watermark of one fetch at the last batch, if larger.

        Tansu answers ListOffsets with the last batch's base offset + 1 (short when that
        batch holds several records) but carries the right high watermark in fetch
        responses. On Kafka both agree and this costs one small fetch per call.
        """
        ends: dict[KTP, int] = dict(await reader.end_offsets(tps))
        nonempty = [tp for tp, end in ends.items() if end > 0]
        if not nonempty:
            return ends
        reader.assign(nonempty)  # a fresh assignment: no stale high watermarks
        for tp in nonempty:
            reader.seek(tp, ends[tp] - 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _HIGHWATER_WAIT_S
        waiting = set(nonempty)
        while waiting and loop.time() < deadline:
            await reader.getmany(*waiting, timeout_ms=100)
            for tp in list(waiting):
                hw = reader.highwater(tp)
                if hw is not None:
                    ends[tp] = max(ends[tp], hw)
                    waiting.discard(tp)
        reader.assign([])
        return ends

    async def committed_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> dict[TopicPartition, int]:
        tps = [KTP(tp.topic, tp.partition) for tp in partitions]
        if not tps:  # asking for "all" crashes aiokafka's decoder on Tansu; be explicit
            return {}
        found = await retrying(
            self._settings,
            f"read committed offsets of group {group_id!r}",
            lambda: self._admin_call(
                lambda c: c.list_consumer_group_offsets(group_id, partitions=tps)
            ),
        )
        return {
            TopicPartition(tp.topic, tp.partition): meta.offset
            for tp, meta in found.items()
            if meta.offset >= 0
        }

    async def alter_group_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        if await self.group_is_active(group_id):
            raise BrokerError(
                f"Consumer group {group_id!r} still has live members; stop every worker of "
                "the application before changing its offsets."
            )
        # A commit outside any generation is what Kafka accepts for an empty group.
        committer = await start_client(
            self._settings,
            lambda: AIOKafkaConsumer(
                **self._settings.consumer_kwargs(group_id=group_id, enable_auto_commit=False)
            ),
            lambda c: c.start(),
            lambda c: c.stop(),
            "offset committer",
        )
        try:
            tps = {KTP(tp.topic, tp.partition): off for tp, off in offsets.items()}
            committer.assign(list(tps))
            await committer.commit(tps)
        except KafkaError as exc:
            raise broker_error(exc, f"set offsets of group {group_id!r}") from exc
        finally:
            await committer.stop()

    async def delete_group(self, group_id: str) -> None:
        client = await self._admin()
        try:
            coordinator = await client.find_coordinator(group_id)
            response = await client._send_request(DeleteGroupsRequest([group_id]), coordinator)
        except KafkaError as exc:
            raise broker_error(exc, f"delete group {group_id!r}") from exc
        for _gid, code in response.results:
            if code == _NON_EMPTY_GROUP:
                raise BrokerError(
                    f"Consumer group {group_id!r} still has live members; stop every worker "
                    "of the application before deleting it."
                )
            if code not in (0, _GROUP_NOT_FOUND):
                raise BrokerError(f"Kafka refused to delete group {group_id!r} (error {code}).")

    async def delete_records(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Kafka's DeleteRecords (the call Kafka Streams makes on repartition topics after
        a commit); returns each partition's new low watermark (log start offset)."""
        if not offsets:
            return {}
        wanted = {KTP(tp.topic, tp.partition): RecordsToDelete(int(o)) for tp, o in offsets.items()}
        try:
            found = await (await self._admin()).delete_records(wanted)
        except KafkaError as exc:
            raise broker_error(exc, f"delete records of {sorted(offsets)}") from exc
        return {TopicPartition(tp.topic, tp.partition): int(low) for tp, low in found.items()}

    async def alter_topic_config(self, topic: str, changes: dict[str, str | None]) -> None:
        """Set (None: delete back to the default) configs of one topic, others untouched
        (IncrementalAlterConfigs, see topic_configs.py)."""
        await alter_topic_config(await self._admin(), topic, changes)

    async def topic_configs(self, topics: Iterable[str]) -> dict[str, dict[str, str]]:
        """The configs set on each topic (broker defaults left out)."""
        return await describe_topic_configs(await self._admin(), topics)

    async def group_is_active(self, group_id: str) -> bool:
        """True while the group has members.

        Static members (group_instance_id) do not leave on close; they count as active until
        the broker's session timeout expires, as in Kafka.
        """
        responses = await retrying(
            self._settings,
            f"describe group {group_id!r}",
            lambda: self._admin_call(lambda c: c.describe_consumer_groups([group_id])),
        )
        for response in responses:
            for group in response.groups:
                code, state, members = group[0], group[2], group[5]
                if code not in (0, _GROUP_NOT_FOUND):
                    raise BrokerError(
                        f"Kafka could not describe group {group_id!r} (error {code})."
                    )
                if members and state not in ("Empty", "Dead"):
                    return True
        return False

    async def close(self) -> None:
        client, self._client = self._client, None
        reader, self._offsets_reader = self._offsets_reader, None
        if reader is not None:
            await reader.stop()
        if client is not None:
            await client.close()
        log.debug("Kafka admin closed")
