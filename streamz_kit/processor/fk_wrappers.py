"""What a foreign-key join (KIP-213) sends through its two internal topics, and the bytes of
its subscription store's keys.

A subscription (left task -> right task, keyed by the foreign key) says which left row
subscribes, what to answer, and a hash of the left value it was made from. A response
(right task -> left task, keyed by the left row's key) carries that hash back with the
right value; the left side drops a response whose hash no longer matches the row's current
value, because the row changed (maybe its foreign key) while the response was in flight.

The hash is a 128-bit BLAKE2b digest of the serialized left value; Kafka Streams uses
murmur3-128 for the same purpose. Only equality matters, and both ends are ours.
"""

from __future__ import annotations

import hashlib
import struct
from enum import IntEnum
from typing import Any, NamedTuple

from streamz_kit.errors import SerializationError
from streamz_kit.serdes import Serde, describe_bytes

__all__ = [
    "Instruction",
    "ResponseWrapper",
    "ResponseWrapperSerde",
    "SubscriptionWrapper",
    "SubscriptionWrapperSerde",
    "combined_key",
    "combined_prefix",
    "split_combined_key",
    "value_hash",
]

VERSION = 0
_HEAD = struct.Struct(">BBB")  # version, instruction (or 0), flags
_PARTITION = struct.Struct(">i")
_LEN = struct.Struct(">I")
_HASH_LEN = 16


class Instruction(IntEnum):
    """Kafka's SubscriptionWrapper.Instruction, with the same byte values."""

    DELETE_KEY_AND_PROPAGATE = 0
    DELETE_KEY_NO_PROPAGATE = 1
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3


class SubscriptionWrapper(NamedTuple):
    hash: bytes | None
    instruction: Instruction
    primary_key: Any
    primary_partition: int


class ResponseWrapper(NamedTuple):
    hash: bytes | None
    foreign_value: Any
    primary_partition: int


def value_hash(serialized: bytes | None) -> bytes | None:
    """The hash a subscription carries: None for a deleted row."""
    if serialized is None:
        return None
    return hashlib.blake2b(serialized, digest_size=_HASH_LEN).digest()


def _malformed(topic: str, what: str, data: bytes | None) -> SerializationError:
    return SerializationError(
        f"Malformed foreign-key join {what} on internal topic {topic!r}: "
        f"{describe_bytes(data)}. Reset the application (streamz-kit reset) if this topic "
        "was written by another version."
    )


def _head(topic: str, what: str, data: bytes | None) -> tuple[int, int, bytes | None, int, int]:
    """(instruction, flags, hash, partition, offset of the payload) of a wrapper."""
    if data is None or len(data) < _HEAD.size + _PARTITION.size:
        raise _malformed(topic, what, data)
    version, instruction, flags = _HEAD.unpack_from(data)
    if version != VERSION:
        raise _malformed(topic, f"{what} (version {version})", data)
    pos = _HEAD.size
    digest = None
    if flags & 1:
        digest = data[pos : pos + _HASH_LEN]
        if len(digest) != _HASH_LEN:
            raise _malformed(topic, what, data)
        pos += _HASH_LEN
    if len(data) < pos + _PARTITION.size:
        raise _malformed(topic, what, data)
    (partition,) = _PARTITION.unpack_from(data, pos)
    return instruction, flags, digest, partition, pos + _PARTITION.size


class SubscriptionWrapperSerde:
    """[version][instruction][flags][16-byte hash if flags&1][4-byte partition][primary key]."""

    def __init__(self, primary_key_serde: Serde) -> None:
        self.primary_key_serde = primary_key_serde

    def serialize(self, topic: str, wrapper: SubscriptionWrapper | None) -> bytes | None:
        if wrapper is None:
            return None
        pk = self.primary_key_serde.serialize(topic, wrapper.primary_key) or b""
        digest = wrapper.hash
        head = _HEAD.pack(VERSION, int(wrapper.instruction), 1 if digest is not None else 0)
        return head + (digest or b"") + _PARTITION.pack(wrapper.primary_partition) + pk

    def deserialize(self, topic: str, data: bytes | None) -> SubscriptionWrapper | None:
        if data is None:
            return None
        instruction, _, digest, partition, pos = _head(topic, "subscription", data)
        try:
            kind = Instruction(instruction)
        except ValueError:
            raise _malformed(topic, "subscription", data) from None
        pk = self.primary_key_serde.deserialize(topic, data[pos:])
        return SubscriptionWrapper(digest, kind, pk, partition)


class ResponseWrapperSerde:
    """[version][0][flags][16-byte hash if flags&1][4-byte partition][foreign value if flags&2]."""

    def __init__(self, foreign_value_serde: Serde) -> None:
        self.foreign_value_serde = foreign_value_serde

    def serialize(self, topic: str, wrapper: ResponseWrapper | None) -> bytes | None:
        if wrapper is None:
            return None
        value = None
        if wrapper.foreign_value is not None:
            value = self.foreign_value_serde.serialize(topic, wrapper.foreign_value)
        digest = wrapper.hash
        flags = (1 if digest is not None else 0) | (2 if value is not None else 0)
        return (
            _HEAD.pack(VERSION, 0, flags)
            + (digest or b"")
            + _PARTITION.pack(wrapper.primary_partition)
            + (value or b"")
        )

    def deserialize(self, topic: str, data: bytes | None) -> ResponseWrapper | None:
        if data is None:
            return None
        _, flags, digest, partition, pos = _head(topic, "response", data)
        value = self.foreign_value_serde.deserialize(topic, data[pos:]) if flags & 2 else None
        return ResponseWrapper(digest, value, partition)


def combined_prefix(foreign_key_bytes: bytes) -> bytes:
    """Every subscription to one foreign key shares this prefix in the subscription store."""
    return _LEN.pack(len(foreign_key_bytes)) + foreign_key_bytes


def combined_key(foreign_key_bytes: bytes, primary_key_bytes: bytes) -> bytes:
    """[4-byte length of the foreign key][foreign key][primary key] (Kafka's CombinedKey)."""
    return combined_prefix(foreign_key_bytes) + primary_key_bytes


def split_combined_key(data: bytes) -> tuple[bytes, bytes]:
    (n,) = _LEN.unpack_from(data)
    return data[4 : 4 + n], data[4 + n :]
