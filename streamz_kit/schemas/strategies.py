"""Subject name strategies: which registry subject a topic's keys or values belong to.

As in Confluent's serializers: `topic` (TopicNameStrategy, the default) gives
`<topic>-key` / `<topic>-value`; `record` gives the record's full name (one subject per
type, shared by every topic carrying it); `topic_record` gives `<topic>-<record full name>`.
A callable `(topic, is_key, record_name) -> subject` is accepted too.
"""

from __future__ import annotations

from collections.abc import Callable

from streamz_kit.errors import ConfigError

Strategy = Callable[[str, bool, str | None], str]


def topic_name(topic: str, is_key: bool, record_name: str | None) -> str:
    return f"{topic}-{'key' if is_key else 'value'}"


def record_name(topic: str, is_key: bool, record_name: str | None) -> str:
    if not record_name:
        raise ConfigError(
            "The record name strategy needs a named schema (an Avro record, a "
            "JSON Schema with a title, or a Protobuf message)."
        )
    return record_name


def topic_record_name(topic: str, is_key: bool, name: str | None) -> str:
    return f"{topic}-{record_name(topic, is_key, name)}"


_BY_NAME: dict[str, Strategy] = {
    "topic": topic_name,
    "topic_name": topic_name,
    "record": record_name,
    "record_name": record_name,
    "topic_record": topic_record_name,
    "topic_record_name": topic_record_name,
}


def resolve(strategy: str | Strategy) -> Strategy:
    if callable(strategy):
        return strategy
    found = _BY_NAME.get(str(strategy).lower().replace("strategy", "").rstrip("_"))
    if found is None:
        raise ConfigError(
            f"Unknown subject name strategy {strategy!r}; use 'topic', 'record', "
            "'topic_record' or a function (topic, is_key, record_name) -> subject."
        )
    return found
