"""Topic configs on Kafka: read them (DescribeConfigs) and change some (IncrementalAlterConfigs).

Why not aiokafka's `alter_configs`: it sends the old AlterConfigs request, whose semantics
are "this is the topic's WHOLE config set": every config left out goes back to the broker's
default (seen on Kafka 4.x: AlterConfigs {retention.ms} on a compacted topic answered
error 0 and left cleanup.policy at the default `delete`), and aiokafka returns per-resource
error codes in the response instead of raising, so a refused value looked like success.
Kafka's own `kafka-configs.sh --alter` and the Java Admin's `incrementalAlterConfigs` use
IncrementalAlterConfigs (KIP-339, API key 44): SET or DELETE one key, the rest untouched.
aiokafka 0.14 has no class for it, so the request is declared here with aiokafka's protocol
types (version 0; version 1 only adds flexible encoding). Every error code in a response
becomes a BrokerError naming the topic and the settings.

Also seen: a DescribeConfigs right after a successful alter still answers the old value
(a KRaft broker answers from its metadata image, which follows the controller
asynchronously), which is how an alter can look as if it "had no effect"; so
`alter_topic_config` returns once the broker describes the new values (at most 10 s), as
`delete_topics` waits until topics are gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, TypeAlias

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from streamz_kit.errors import BrokerError
from streamz_kit.transport.embedded.retention import validate_config
from streamz_kit.transport.kafka._client import broker_error

__all__ = ["alter_topic_config", "describe_topic_configs"]

_TOPIC = int(ConfigResourceType.TOPIC)  # 2
_SET, _DELETE = 0, 1  # IncrementalAlterConfigs' OpType
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs' ConfigSource: set on the topic itself
_UNKNOWN_TOPIC = 3
_VISIBLE_WAIT_S = 10.0


class IncrementalAlterConfigsResponse_v0(Response):  # type: ignore[misc]  # noqa: N801
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "responses",
            Array(
                ("error_code", Int16),
                ("error_message", String("utf-8")),
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
            ),
        ),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):  # type: ignore[misc]  # noqa: N801
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        (
            "resources",
            Array(
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
                (
                    "configs",
                    Array(
                        ("name", String("utf-8")),
                        ("config_operation", Int8),
                        ("value", String("utf-8")),  # nullable: None for DELETE
                    ),
                ),
            ),
        ),
        ("validate_only", Boolean),
    )


_Struct: TypeAlias = IncrementalAlterConfigsRequest_v0


class IncrementalAlterConfigsRequest(Request[_Struct]):  # type: ignore[misc]
    API_KEY = 44

    def __init__(self, resources: list[Any], validate_only: bool = False) -> None:
        self._resources = resources
        self._validate_only = validate_only

    def build(self, request_struct_class: type[_Struct]) -> _Struct:
        return request_struct_class(self._resources, self._validate_only)


def _settings(changes: dict[str, str | None]) -> str:
    return ", ".join(k if v is None else f"{k}={v}" for k, v in changes.items())


async def alter_topic_config(
    client: AIOKafkaAdminClient, topic: str, changes: dict[str, str | None]
) -> None:
    """Set each config (None: delete it, back to the broker's default), leaving the
    topic's other configs as they are. Retention settings are checked here first, with the
    embedded log's sentences; the broker checks the rest and its refusal is raised."""
    validate_config(topic, {k: v for k, v in changes.items() if v is not None})
    entries = [(k, _DELETE if v is None else _SET, v) for k, v in changes.items()]
    try:
        response = await client._send_request(  # noqa: SLF001 - no public raw-request call
            IncrementalAlterConfigsRequest([(_TOPIC, topic, entries)])
        )
    except KafkaError as exc:
        raise broker_error(exc, f"change configs of topic {topic!r}") from exc
    for code, message, _type, name, *_ in response.responses:
        if code == _UNKNOWN_TOPIC:
            raise BrokerError(
                f"Topic {name!r} does not exist on this Kafka cluster; create it with "
                f"`streamz-kit topics --create {name} --config ...`."
            )
        if code != 0:
            raise BrokerError(
                f"Kafka refused to set {_settings(changes)} on topic {name!r}: "
                f"{message or 'error code ' + str(code)}; fix the setting (Kafka's config "
                "names and units, e.g. retention.ms=86400000) and retry."
            )
    deadline = time.monotonic() + _VISIBLE_WAIT_S
    while time.monotonic() < deadline:
        now = (await describe_topic_configs(client, [topic])).get(topic, {})
        if all(now.get(k) == v for k, v in changes.items()):
            return
        await asyncio.sleep(0.1)


async def describe_topic_configs(
    client: AIOKafkaAdminClient, topics: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The configs set on each topic itself (broker defaults left out, as the embedded log
    reports them); topics that do not exist are absent."""
    names = list(topics)
    if not names:
        return {}
    try:
        responses = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    except KafkaError as exc:
        raise broker_error(exc, f"describe configs of topics {names}") from exc
    out: dict[str, dict[str, str]] = {}
    for response in responses:
        for code, _message, _type, name, entries in response.resources:
            if code != 0:
                continue  # an unknown topic: absent, as partition_counts reports it
            out[name] = {
                entry[0]: entry[1]
                for entry in entries
                # v1+: (name, value, read_only, source, sensitive, synonyms); v0 has is_default
                if (
                    entry[3] == _DYNAMIC_TOPIC_CONFIG if response.API_VERSION >= 1 else not entry[3]
                )
                and entry[1] is not None
            }
    return out
