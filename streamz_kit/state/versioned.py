"""The versioned key-value store (KIP-889): every value a key had, with its validity interval.

Each version is one entry of the bytes store, ordered by key then timestamp:

    [0x01][4 key length][key][8 timestamp]  ->  [0x00]           (a tombstone version)
                                                [0x01][value]     (a value)
    [0x00]"observed"                        ->  [8 observed stream time]

A version is valid from its timestamp until the next version's timestamp (its `valid_to`),
or for ever if it is the latest. `get(key, as_of=t)` is one reverse seek. As in Kafka
Streams, the store keeps history for `history_retention_ms` behind its observed stream time
(the largest timestamp ever put): a put older than that is refused (`NOT_PUT`, the record
is dropped) and a read as of such a time returns None. Versions that can no longer be read
are deleted when their key is next written. Everything goes through the write buffer, so
versions are changelogged, committed and restored like any other store entry.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from streamz_kit.serdes import Serde
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.typed import TypedStore

__all__ = ["IS_LATEST", "NOT_PUT", "VersionedKeyValueStore", "VersionedRecord"]

NOT_PUT = -(1 << 63)  # Kafka's PUT_RETURN_CODE_NOT_PUT: older than history retention
IS_LATEST = -1  # Kafka's PUT_RETURN_CODE_VALID_TO_UNDEFINED: the put is the latest version

_BIAS = 1 << 63
_TS = struct.Struct(">Q")
_KLEN = struct.Struct(">I")
_I64 = struct.Struct(">q")
_DATA = b"\x01"
_OBSERVED = b"\x00observed"
_TOMBSTONE = b"\x00"
_VALUE = b"\x01"
_NO_TIME = -(1 << 63)


class VersionedRecord(NamedTuple):
    """One version of a key: its value, the time it became valid, and when it stopped
    (None while it is the latest)."""

    value: Any
    timestamp: int
    valid_to: int | None


class VersionedKeyValueStore(TypedStore):
    kind = "versioned"

    def __init__(
        self,
        buffer: BufferedStore,
        key_serde: Serde,
        value_serde: Serde,
        name: str,
        *,
        history_retention_ms: int,
    ) -> None:
        super().__init__(buffer, key_serde, value_serde, name)
        self.history_retention_ms = history_retention_ms
        self._observed = _NO_TIME
        self._generation = -1

    # -- encoding ----------------------------------------------------------------------

    def _prefix(self, key: Any) -> bytes:
        kb: bytes = self.key_serde.serialize(self._topic, key)  # type: ignore[assignment]
        return _DATA + _KLEN.pack(len(kb)) + kb

    def _decode(self, raw: bytes) -> Any:
        if raw[:1] == _TOMBSTONE:
            return None
        return self.value_serde.deserialize(self._topic, raw[1:])

    @property
    def observed_stream_time(self) -> int:
        """The largest timestamp ever put (restored with the store)."""
        if self._generation != self.buffer.generation:
            raw = self.buffer.get(_OBSERVED)
            self._observed = _NO_TIME if raw is None else int(_I64.unpack(raw)[0])
            self._generation = self.buffer.generation
        return self._observed

    def _versions(
        self, prefix: bytes, lo: int, hi: int, *, reverse: bool = False
    ) -> Iterator[tuple[int, bytes]]:
        at = len(prefix)
        for k, v in self.buffer.range(
            prefix + _TS.pack(lo + _BIAS), prefix + _TS.pack(hi + _BIAS), reverse=reverse
        ):
            yield _TS.unpack_from(k, at)[0] - _BIAS, v

    # -- writes ------------------------------------------------------------------------

    def put(self, key: Any, value: Any, timestamp: int) -> int:
        """Add a version (None: a tombstone) valid from `timestamp`. Returns NOT_PUT if it
        is older than the history retention, IS_LATEST if it is now the latest version,
        else the timestamp it is valid to (the next version's)."""
        observed = self.observed_stream_time
        if observed != _NO_TIME and timestamp < observed - self.history_retention_ms:
            return NOT_PUT
        if timestamp > observed:
            self._observed = observed = timestamp
            self.buffer.put(_OBSERVED, _I64.pack(timestamp))
        prefix = self._prefix(key)
        vb = None if value is None else self.value_serde.serialize(self._topic, value)
        self.buffer.put(
            prefix + _TS.pack(timestamp + _BIAS), _TOMBSTONE if vb is None else _VALUE + vb
        )
        self._expire(prefix, observed - self.history_retention_ms)
        nxt = next(self._versions(prefix, timestamp + 1, (1 << 63) - 1), None)
        return IS_LATEST if nxt is None else nxt[0]

    def delete(self, key: Any, timestamp: int) -> Any:
        """A tombstone version at `timestamp`; returns the value valid just before it."""
        before = self.get_versioned(key, as_of=timestamp)
        self.put(key, None, timestamp)
        return None if before is None else before.value

    def _expire(self, prefix: bytes, floor: int) -> None:
        """Drop versions of one key that no read as of `floor` or later can return: every
        version before the one valid at `floor`."""
        older = list(self._versions(prefix, _NO_TIME, floor, reverse=True))
        for ts, _ in older[1:]:
            self.buffer.put(prefix + _TS.pack(ts + _BIAS), None)

    # -- reads -------------------------------------------------------------------------

    def get_versioned(self, key: Any, as_of: int | None = None) -> VersionedRecord | None:
        """The version valid at `as_of` (default: the latest); None if the key had no value
        then, or `as_of` is older than the history retention (unless the latest version is
        already valid at `as_of`: it never expires)."""
        prefix = self._prefix(key)
        if as_of is None:
            found = next(self._versions(prefix, _NO_TIME, (1 << 63) - 1, reverse=True), None)
            if found is None or found[1][:1] == _TOMBSTONE:
                return None
            return VersionedRecord(self._decode(found[1]), found[0], None)
        observed = self.observed_stream_time
        if observed != _NO_TIME and as_of < observed - self.history_retention_ms:
            # Beyond the history retention only the latest version answers, and only when
            # it is already valid at `as_of`: the latest version of a key never expires
            # (Kafka's RocksDBVersionedStore.get; found by the oracle).
            latest = next(self._versions(prefix, _NO_TIME, (1 << 63) - 1, reverse=True), None)
            if latest is None or latest[1][:1] == _TOMBSTONE or latest[0] > as_of:
                return None
            return VersionedRecord(self._decode(latest[1]), latest[0], None)
        found = next(self._versions(prefix, _NO_TIME, as_of, reverse=True), None)
        if found is None or found[1][:1] == _TOMBSTONE:
            return None
        nxt = next(self._versions(prefix, found[0] + 1, (1 << 63) - 1), None)
        return VersionedRecord(self._decode(found[1]), found[0], None if nxt is None else nxt[0])

    def get(self, key: Any, as_of: int | None = None) -> Any:
        """The value valid at `as_of` (default: the latest), or None."""
        record = self.get_versioned(key, as_of)
        return None if record is None else record.value

    def get_with_timestamp(self, key: Any) -> tuple[Any, int] | None:
        """The latest (value, timestamp), as the timestamped store offers it."""
        record = self.get_versioned(key)
        return None if record is None else (record.value, record.timestamp)

    def all(self) -> Iterator[tuple[Any, Any]]:
        """(key, latest value) for every key whose latest version is not a tombstone."""
        kdes = self.key_serde.deserialize
        topic = self._topic
        last_kb: bytes | None = None
        last_raw: bytes | None = None
        for k, v in self.buffer.range(_DATA, None):
            kb = k[5 : 5 + _KLEN.unpack_from(k, 1)[0]]
            if (
                last_kb is not None
                and kb != last_kb
                and last_raw is not None
                and last_raw[:1] != _TOMBSTONE
            ):
                yield kdes(topic, last_kb), self._decode(last_raw)
            last_kb, last_raw = kb, v
        if last_kb is not None and last_raw is not None and last_raw[:1] != _TOMBSTONE:
            yield kdes(topic, last_kb), self._decode(last_raw)

    def approximate_num_entries(self) -> int:
        return self.buffer.approximate_num_entries()
