"""The object cache of a typed store: hot values kept as Python objects, serialized once.

Kafka Streams' caching stores keep serialized bytes, so every read still deserializes
and every write still serializes. A windowed count over 60 s / 10 s hopping windows reads
and writes six windows a record; here each of those is a dict lookup and a dict write,
and a window's value is serialized once when it leaves the cache: at the commit (before
the changelog is produced; `StateManager` calls `flush_cache`), when the cache is full
(the oldest half is evicted), or before any read that the cache cannot answer alone
(range scans, which go to the write buffer below).

**Only keys whose Python equality is byte equality** (str, bytes, int) are cached.

**Only values that cannot be aliased are cached as objects**: ints and floats whose
serialization cannot fail (`cache_check`). An aggregator that mutates its aggregate in
place (a list or a dict) would otherwise change the cached object behind the store's
back, and with it the old value already sent downstream in `Change(new, old)` (Kafka's
send-old-values contract; Kafka itself caches bytes). Such values, and every value of a
serde not listed, keep the serialized path: read from bytes, a fresh object each time.
A value that fails validation is written through at once, so serialization errors are
still raised by the `put` of the record that caused them.

The cache never holds anything the commit protocol needs: `flush_cache` hands every
dirty entry to the write buffer, which the commit then produces and applies as before. A
change of the buffer's `generation` (restoration, an aborted transaction's discard, a
wipe) drops the cache, dirty entries included: they belonged to the aborted work.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import partial
from typing import Any

from streamz_kit.serdes import FloatSerde, IntSerde, JsonSerde, LongSerde, fast_dumper

__all__ = [
    "CACHE_KEY_TYPES",
    "DEFAULT_CACHE_ENTRIES",
    "cache_check",
    "key_encoder",
    "stamped_encoder",
    "value_encoder",
]

# Keys cached by their Python value must be equal exactly when their bytes are: 1, 1.0 and
# True are one dict key but three different JSON keys, so only these exact types are
# cached (`type(key) in CACHE_KEY_TYPES`; bool is not int here); other keys always take
# the serialized path, which never touches the cache.
CACHE_KEY_TYPES = frozenset({str, bytes, int})

# Entries per store and task. ~250 bytes an entry (key tuple, value tuple, two dict slots):
# ~8 MB per store instance when full. W3 (10,000 keys over 4 tasks, 7 live windows a key)
# keeps ~17,500 live windows per task.
DEFAULT_CACHE_ENTRIES = 32_768

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1


def _i64(value: Any) -> bool:
    return type(value) is int and _I64_MIN <= value <= _I64_MAX


def _i32(value: Any) -> bool:
    return type(value) is int and _I32_MIN <= value <= _I32_MAX


def _float(value: Any) -> bool:
    return type(value) is float


def cache_check(serde: Any) -> Callable[[Any], bool] | None:
    """For a built-in serde, a test that a value is immutable, reads back equal and of the
    same type, and serializes without error; None when this serde's values are not cached.

    JSON caches ints only: a float may be NaN or infinite (JSON null), and anything else is
    mutable or may fail to encode (strings with lone surrogates)."""
    kind = type(serde)
    if kind is LongSerde or kind is JsonSerde:
        return _i64
    if kind is IntSerde:
        return _i32
    if kind is FloatSerde:
        return _float
    return None


# What a flush of the cache writes, one call per entry (the commit flushes thousands of
# entries at 100 ms exactly_once commits): the cached keys and values passed `put`'s checks,
# so these produce the serde's exact bytes without its per-call checks.
_TS_LONG = struct.Struct(">qq").pack
_TS_INT = struct.Struct(">qi").pack
_TS_FLOAT = struct.Struct(">qd").pack
_TS = struct.Struct(">q").pack


def _ts_json_int(timestamp: int, value: int) -> bytes:
    return b"%b%d" % (_TS(timestamp), value)  # JSON of an int is its decimal digits


def key_encoder(serde: Any, topic: str) -> Callable[[Any], bytes]:
    """The bytes of a cached key (one its serde already accepted at `put`)."""
    fast = fast_dumper(serde)
    return fast if fast is not None else partial(serde.serialize, topic)


def stamped_encoder(serde: Any, topic: str) -> Callable[[int, Any], bytes]:
    """(record timestamp, cached value) -> 8-byte big-endian timestamp + the value's bytes,
    the timestamped stores' value layout; one struct call for the numeric serdes."""
    kind = type(serde)
    if kind is LongSerde:
        return _TS_LONG
    if kind is IntSerde:
        return _TS_INT
    if kind is FloatSerde:
        return _TS_FLOAT
    if kind is JsonSerde:
        return _ts_json_int
    vser = serde.serialize
    return lambda timestamp, value: _TS(timestamp) + vser(topic, value)


def value_encoder(serde: Any, topic: str) -> Callable[[Any], bytes]:
    """The bytes of a cached value, without a timestamp."""
    kind = type(serde)
    if kind is JsonSerde:
        return b"%d".__mod__  # cached JSON values are ints
    if kind is LongSerde:
        return struct.Struct(">q").pack
    if kind is IntSerde:
        return struct.Struct(">i").pack
    if kind is FloatSerde:
        return struct.Struct(">d").pack
    return partial(serde.serialize, topic)
