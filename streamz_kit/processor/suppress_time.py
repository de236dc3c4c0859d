"""`suppress(Suppressed.until_time_limit(...))`: rate-limit a table's updates per key.

The first update of a key starts its wait; later updates of the same key replace the
buffered value but keep that start time. When this processor's stream time reaches the
start plus the time limit, the latest value is emitted (tombstones too) with the timestamp
of the update that produced it (Kafka's KTableSuppressProcessor with `untilTimeLimit`).
With `max_records`, a full buffer emits its oldest entries early instead of failing
(Kafka's `BufferConfig.maxRecords(n)`, whose default is emit-early-when-full).

The buffer is a changelogged key-value store keyed by [8-byte start time][key bytes], so
it iterates in emission order (ties by key bytes, as Kafka's buffer) and survives a
restart; an in-memory index maps each key to its start time.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers
from streamz_kit.processor.suppress import BufferValueSerde
from streamz_kit.serdes import Serde

__all__ = ["HeaderedBufferSerde", "TimeLimitSuppressNode"]

_BIAS = 1 << 63
_TIME = struct.Struct(">Q")
_LEN = struct.Struct(">I")
_HLEN = struct.Struct(">HI")


class HeaderedBufferSerde(BufferValueSerde):
    """(new, prior, timestamp, headers): the buffered update and the headers of the record
    that made it, which the emitted record carries (as Kafka's buffer keeps the record
    context)."""

    def serialize(self, topic: str, entry: Any) -> bytes | None:
        if entry is None:
            return None
        new, prior, ts, headers = entry
        base = super().serialize(topic, (new, prior, ts)) or b""
        parts = [_LEN.pack(len(base)), base]
        for name, data in headers:
            nb = name.encode()
            parts += [_HLEN.pack(len(nb), len(data)), nb, data]
        return b"".join(parts)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        (n,) = _LEN.unpack_from(data)
        new, prior, ts = super().deserialize(topic, data[4 : 4 + n])
        at = 4 + n
        headers: list[tuple[str, bytes]] = []
        while at < len(data):
            nlen, dlen = _HLEN.unpack_from(data, at)
            at += _HLEN.size
            name = data[at : at + nlen].decode()
            at += nlen
            headers.append((name, data[at : at + dlen]))
            at += dlen
        return new, prior, ts, tuple(headers)


class TimeLimitSuppressNode(StatefulNode):
    def __init__(
        self,
        name: str,
        store_name: str,
        *,
        time_limit_ms: int,
        key_serde: Serde,
        max_records: int | None,
        send_old_values: Callable[[], bool],
    ) -> None:
        super().__init__(name, store_name)
        self.time_limit_ms = time_limit_ms
        self.key_serde = key_serde
        self.max_records = max_records
        self._send_old_values = send_old_values
        self.send_old_values = False
        self.observed = -1
        self.started: dict[bytes, int] = {}  # key bytes -> time of its first buffered update

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.send_old_values = self._send_old_values()
        for store_key, _ in self.store.all():
            self.started[store_key[8:]] = _TIME.unpack_from(store_key)[0] - _BIAS

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        kb = self.key_serde.serialize(self.store_name, key) or b""
        start = self.started.get(kb)
        if start is None:
            start = self.started[kb] = timestamp
            prior = change.old
        else:
            current = self.store.get(_TIME.pack(start + _BIAS) + kb)
            prior = change.old if current is None else current[1]
        self.store.put(_TIME.pack(start + _BIAS) + kb, (change.new, prior, timestamp, headers))
        self.observed = max(self.observed, timestamp)
        self._evict()

    def _evict(self) -> None:
        """Emit entries whose wait is over, then (if still over max_records) the oldest."""
        expiry = self.observed - self.time_limit_ms
        limit = self.max_records
        size = len(self.started)
        if (limit is None or size <= limit) and (
            not self.started or min(self.started.values()) > expiry
        ):
            return
        done: list[bytes] = []
        for store_key, (new, prior, ts, headers) in self.store.all():
            start = _TIME.unpack_from(store_key)[0] - _BIAS
            if start > expiry and (limit is None or size <= limit):
                break
            size -= 1
            done.append(store_key)
            key = self.key_serde.deserialize(self.store_name, store_key[8:])
            self.forward(key, Change(new, prior if self.send_old_values else None), ts, headers)
        for store_key in done:
            self.store.put(store_key, None)
            self.started.pop(store_key[8:], None)
