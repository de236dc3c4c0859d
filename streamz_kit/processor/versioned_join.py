"""Stream-table join with a grace period (KIP-923), against a versioned table.

Stream records wait in a changelogged buffer, ordered by timestamp, until this processor's
stream time (the largest stream-record timestamp it has seen) is `grace` past them; then
each is joined with the table row valid at its own timestamp, oldest first. A record that
is already `grace` behind when it arrives is joined at once. Late table updates that
arrive within the grace period are therefore seen by the stream records they precede, which
a plain stream-table join cannot do.

Buffer entry: [8 timestamp][key][8 sequence] -> [4 len][key][4 len][value][headers]: records
leave in timestamp order, equal timestamps in key-byte order and then in arrival order, as
from Kafka's time-ordered buffer (found by the oracle); the buffer survives a restart.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Headers
from streamz_kit.serdes import Serde

__all__ = ["StreamTableJoinGraceNode"]

_BIAS = 1 << 63
_U64 = struct.Struct(">Q")
_LEN = struct.Struct(">I")
_HLEN = struct.Struct(">HI")


def _pack(kb: bytes | None, vb: bytes | None, headers: Headers) -> bytes:
    parts = [_LEN.pack(len(kb or b"")), kb or b"", _LEN.pack(len(vb or b"")), vb or b""]
    for name, data in headers:
        nb = name.encode()
        parts += [_HLEN.pack(len(nb), len(data)), nb, data]
    return b"".join(parts)


def _unpack(raw: bytes) -> tuple[bytes, bytes, Headers]:
    at = 0
    (n,) = _LEN.unpack_from(raw, at)
    kb = raw[at + 4 : at + 4 + n]
    at += 4 + n
    (n,) = _LEN.unpack_from(raw, at)
    vb = raw[at + 4 : at + 4 + n]
    at += 4 + n
    headers: list[tuple[str, bytes]] = []
    while at < len(raw):
        nlen, dlen = _HLEN.unpack_from(raw, at)
        at += _HLEN.size
        name = raw[at : at + nlen].decode()
        at += nlen
        headers.append((name, raw[at : at + dlen]))
        at += dlen
    return kb, vb, tuple(headers)


class StreamTableJoinGraceNode(StatefulNode):
    def __init__(
        self,
        name: str,
        table_store: str,
        buffer_store: str,
        *,
        joiner: Callable[[Any, Any], Any],
        left: bool,
        grace_ms: int,
        key_serde: Serde,
        value_serde: Serde,
    ) -> None:
        super().__init__(name, table_store)
        self.buffer_store_name = buffer_store
        self.buffer: Any = None
        self.joiner = joiner
        self.left = left
        self.grace_ms = grace_ms
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.observed = -1
        self.seq = 0
        self.min_ts: int | None = None

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.buffer = context.get_store(self.buffer_store_name)
        for store_key, _ in self.buffer.all():  # restored entries: resume their order
            ts = _U64.unpack_from(store_key)[0] - _BIAS
            (seq,) = _U64.unpack_from(store_key, len(store_key) - 8)
            self.seq = max(self.seq, seq + 1)
            self.min_ts = ts if self.min_ts is None else min(self.min_ts, ts)
            self.observed = max(self.observed, ts)

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is None or value is None:
            self.skip("null key or value", key)
            return
        self.observed = max(self.observed, timestamp)
        topic = self.buffer_store_name
        kb = self.key_serde.serialize(topic, key)
        vb = self.value_serde.serialize(topic, value)
        store_key = _U64.pack(timestamp + _BIAS) + (kb or b"") + _U64.pack(self.seq)
        self.buffer.put(store_key, _pack(kb, vb, headers))
        self.seq += 1
        if self.min_ts is None or timestamp < self.min_ts:
            self.min_ts = timestamp
        self._evict()

    def _evict(self) -> None:
        """Join every buffered record whose grace is over, oldest first."""
        deadline = self.observed - self.grace_ms
        if self.min_ts is None or self.min_ts > deadline:
            return
        topic = self.buffer_store_name
        done: list[bytes] = []
        self.min_ts = None
        for store_key, raw in self.buffer.all():
            ts = _U64.unpack_from(store_key)[0] - _BIAS
            if ts > deadline:
                self.min_ts = ts
                break
            done.append(store_key)
            kb, vb, headers = _unpack(raw)
            self._join(
                self.key_serde.deserialize(topic, kb),
                self.value_serde.deserialize(topic, vb),
                ts,
                headers,
            )
        for store_key in done:
            self.buffer.put(store_key, None)

    def _join(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        other = self.store.get(key, as_of=timestamp)
        if other is None and not self.left:
            return
        try:
            result = self.joiner(value, other)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(key, result, timestamp, headers)
