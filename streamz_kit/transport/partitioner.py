"""Kafka's default partitioner (murmur2 of the key bytes), so our sinks and Java clients agree
on which partition a key lives in — the premise of co-partitioned joins across producers."""

from __future__ import annotations

import itertools

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_round_robin = itertools.count()


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`, returning the signed 32-bit result as Java does."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    end = length - (length & 3)
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    rest = length & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


_cache: dict[tuple[bytes, int], int] = {}


def default_partition(key: bytes | None, num_partitions: int) -> int:
    """Partition of a key: `toPositive(murmur2(key)) % n`; keyless records spread round-robin."""
    if num_partitions <= 1:
        return 0
    if key is None:
        return next(_round_robin) % num_partitions
    cached = _cache.get((key, num_partitions))
    if cached is not None:
        return cached
    partition = (murmur2(key) & 0x7FFFFFFF) % num_partitions
    if len(_cache) > 100_000:
        _cache.clear()
    _cache[(key, num_partitions)] = partition
    return partition
