"""The default partitioner hashes keys as Kafka's Java client does (Utils.murmur2), so our
sinks and Java producers put a key in the same partition."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from streamz_kit.transport import partitioner
from streamz_kit.transport.partitioner import default_partition, murmur2

# Kafka's own UtilsTest.testMurmur2 vectors
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_test_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_murmur2_matches_an_independent_implementation(data: bytes) -> None:
    # aiokafka's pure-Python port returns the unsigned 32 bits
    assert murmur2(data) & 0xFFFFFFFF == aiokafka_murmur2(data)


def test_default_partition_keeps_keys_in_use_cached_across_turnover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(partitioner, "_CACHE_SIZE", 4)
    monkeypatch.setattr(partitioner, "_cache", {})
    monkeypatch.setattr(partitioner, "_old", {})
    calls: list[bytes] = []

    def counting(data: bytes) -> int:
        calls.append(data)
        return murmur2(data)

    monkeypatch.setattr(partitioner, "murmur2", counting)
    hot = [b"hot0", b"hot1"]  # sent again and again, between keys seen once
    once = [b"once%d" % i for i in range(20)]
    sent = [k for i in range(10) for k in (*hot, once[2 * i], once[2 * i + 1])]
    got = [default_partition(k, 7) for k in sent]
    assert got == [(murmur2(k) & 0x7FFFFFFF) % 7 for k in sent]
    assert sorted(calls) == sorted(hot + once)  # each key hashed once, the cache turned over
    assert default_partition(b"k0", 1) == 0 and default_partition(None, 1) == 0
