"""`suppress(Suppressed.until_window_closes())`: one final result per window.

Updates of a windowed table wait in a changelogged key-value store (so a restart loses no
pending result) keyed by [8-byte window end][windowed key], i.e. in the order windows
close. When this node's observed stream time reaches a window's end plus the suppression
time (the window's grace; for sessions the inactivity gap plus grace, as Kafka's
final-results suppression) the latest value is emitted with its own timestamp, and deleted
from the buffer. Final results never emit tombstones.

As in Kafka's KTableSuppressProcessor, the observed stream time is the largest timestamp of
the updates that reached this node, and the buffer is only checked when one arrives: a
record that an upstream filter removed, or that the windowed aggregation dropped as late,
moves nothing here, and there is no punctuation.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from streamz_kit.errors import SerializationError, StreamsProcessingError
from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers
from streamz_kit.serdes import Serde, describe_bytes

__all__ = ["BufferValueSerde", "SuppressNode"]

_BIAS = 1 << 63
_MAX = (1 << 63) - 1
_END = struct.Struct(">Q")
_HEAD = struct.Struct(">qBI")  # record timestamp, presence flags, length of the new value


class BufferValueSerde:
    """(new, prior, timestamp) of one buffered update: [8 ts][1 flags][4 len][new][prior]."""

    def __init__(self, inner: Serde) -> None:
        self.inner = inner

    def serialize(self, topic: str, entry: Any) -> bytes | None:
        if entry is None:
            return None
        new, prior, ts = entry
        nb = None if new is None else self.inner.serialize(topic, new)
        pb = None if prior is None else self.inner.serialize(topic, prior)
        flags = (1 if nb is not None else 0) | (2 if pb is not None else 0)
        nb = nb or b""
        return _HEAD.pack(ts, flags, len(nb)) + nb + (pb or b"")

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < _HEAD.size:
            raise SerializationError(
                f"Malformed suppression buffer entry in {topic!r}: {describe_bytes(data)}. "
                "Reset the application if the store was written by another version."
            )
        ts, flags, n = _HEAD.unpack_from(data)
        body = data[_HEAD.size :]
        new = self.inner.deserialize(topic, body[:n]) if flags & 1 else None
        prior = self.inner.deserialize(topic, body[n:]) if flags & 2 else None
        return new, prior, ts


class SuppressNode(StatefulNode):
    def __init__(
        self,
        name: str,
        store_name: str,
        *,
        suppress_ms: int,
        key_serde: Serde,
        max_records: int | None,
        send_old_values: Callable[[], bool],
    ) -> None:
        super().__init__(name, store_name)
        self.suppress_ms = suppress_ms
        self.key_serde = key_serde
        self.max_records = max_records
        self._send_old_values = send_old_values
        self.send_old_values = False
        self.observed = -1
        self.size = 0
        self.min_end = _MAX  # earliest buffered window end: skip scans until it closes

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.send_old_values = self._send_old_values()
        for store_key, _ in self.store.all():
            if self.size == 0:
                self.min_end = _END.unpack_from(store_key)[0] - _BIAS
            self.size += 1

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        window = getattr(key, "window", None)
        if window is None:
            raise self.fail(
                TypeError(
                    f"suppress(until_window_closes()) needs Windowed keys, got {key!r:.60}; "
                    "apply it to the result of a windowed aggregation."
                )
            )
        store_key = _END.pack(window.end + _BIAS) + (
            self.key_serde.serialize(self.store_name, key) or b""
        )
        current = self.store.get(store_key)
        if current is None:
            prior = change.old
            self.size += 1
        else:
            prior = current[1]
        self.store.put(store_key, (change.new, prior, timestamp))
        self.min_end = min(self.min_end, window.end)
        self.observed = max(self.observed, timestamp)
        self._evict()
        if self.max_records is not None and self.size > self.max_records:
            raise StreamsProcessingError(
                f"The suppression buffer of {self.name} holds {self.size} records, more than "
                f"its max_records={self.max_records}; final results cannot be emitted early. "
                "Raise max_records (or drop it for an unbounded buffer), or shorten the grace "
                "period so windows close sooner.",
                node=self.name,
            )

    def _evict(self) -> None:
        expiry = self.observed - self.suppress_ms
        if self.min_end > expiry:
            return
        self.min_end = _MAX
        done: list[bytes] = []
        for store_key, (new, prior, ts) in self.store.all():
            end = _END.unpack_from(store_key)[0] - _BIAS
            if end > expiry:
                self.min_end = end
                break
            done.append(store_key)
            if new is not None:
                key = self.key_serde.deserialize(self.store_name, store_key[8:])
                old = prior if self.send_old_values else None
                self.forward(key, Change(new, old), ts, ())
        for store_key in done:
            self.store.put(store_key, None)
        self.size -= len(done)
