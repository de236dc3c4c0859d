"""The one contract every store stack keeps: ordered bytes, inclusive bounds, reverse."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Stack

KEYS = [b"", b"a", b"a\x00", b"ab", b"b", b"ba", b"\x00", b"\xff", b"\xff\xff"]


def fill(stack: Stack, keys: list[bytes] = KEYS) -> None:
    for i, key in enumerate(keys):
        stack.put(key, b"v" + key + str(i).encode())


def test_get_missing_is_none(stack: Stack) -> None:
    assert stack.reader.get(b"nope") is None


def test_put_get_overwrite_delete(stack: Stack) -> None:
    stack.put(b"k", b"1")
    assert stack.reader.get(b"k") == b"1"
    stack.put(b"k", b"2")
    assert stack.reader.get(b"k") == b"2"
    stack.put(b"k", None)
    assert stack.reader.get(b"k") is None
    stack.put(b"k", None)  # deleting a missing key is fine
    assert list(stack.reader.all()) == []


def test_all_in_key_byte_order(stack: Stack) -> None:
    fill(stack)
    assert [k for k, _ in stack.reader.all()] == sorted(KEYS)
    assert dict(stack.reader.all())[b"ab"] == b"vab3"


def test_range_bounds_are_inclusive(stack: Stack) -> None:
    fill(stack)
    assert [k for k, _ in stack.reader.range(b"a", b"b")] == [b"a", b"a\x00", b"ab", b"b"]
    assert [k for k, _ in stack.reader.range(b"a\x01", b"az")] == [b"ab"]


def test_range_open_bounds(stack: Stack) -> None:
    fill(stack)
    assert [k for k, _ in stack.reader.range(None, b"a")] == [b"", b"\x00", b"a"]
    assert [k for k, _ in stack.reader.range(b"ba", None)] == [b"ba", b"\xff", b"\xff\xff"]
    assert [k for k, _ in stack.reader.range(None, None)] == sorted(KEYS)


def test_range_reverse(stack: Stack) -> None:
    fill(stack)
    assert [k for k, _ in stack.reader.range(b"a", b"b", reverse=True)] == [
        b"b",
        b"ab",
        b"a\x00",
        b"a",
    ]
    assert [k for k, _ in stack.reader.range(None, None, reverse=True)] == sorted(KEYS)[::-1]
    assert [k for k, _ in stack.reader.range(b"b", None, reverse=True)] == [
        b"\xff\xff",
        b"\xff",
        b"ba",
        b"b",
    ]
    assert [k for k, _ in stack.reader.range(None, b"a", reverse=True)] == [b"a", b"\x00", b""]


def test_range_reverse_from_missing_key(stack: Stack) -> None:
    fill(stack)
    assert [k for k, _ in stack.reader.range(b"a\x01", b"az", reverse=True)] == [b"ab"]


def test_empty_and_inverted_ranges(stack: Stack) -> None:
    fill(stack)
    assert list(stack.reader.range(b"c", b"d")) == []
    assert list(stack.reader.range(b"b", b"a")) == []
    assert list(stack.reader.range(b"b", b"a", reverse=True)) == []


def test_deletes_are_hidden_from_ranges(stack: Stack) -> None:
    fill(stack)
    stack.write([(b"ab", None), (b"a\x00", None)])
    assert [k for k, _ in stack.reader.range(b"a", b"b")] == [b"a", b"b"]
    assert [k for k, _ in stack.reader.range(b"a", b"b", reverse=True)] == [b"b", b"a"]


def test_values_are_bytes_round_trip(stack: Stack) -> None:
    payload = bytes(range(256)) * 4
    stack.put(b"bin", payload)
    assert stack.reader.get(b"bin") == payload
    assert list(stack.reader.range(b"bin", b"bin")) == [(b"bin", payload)]


def test_approximate_num_entries_counts_something(stack: Stack) -> None:
    fill(stack)
    count = stack.reader.approximate_num_entries()
    if stack.inner_kind == "memory":
        assert count == len(KEYS)
    else:
        assert count > 0


def test_wipe_forgets_data_and_offset(stack: Stack) -> None:
    fill(stack)
    stack.bytes_store.write_batch([(b"x", b"1")], 7)
    assert stack.bytes_store.changelog_offset() == 7
    stack.reader.wipe()
    assert list(stack.reader.all()) == []
    assert stack.reader.changelog_offset() is None
    stack.put(b"again", b"1")
    assert stack.reader.get(b"again") == b"1"


def test_write_batch_records_offset(stack: Stack) -> None:
    assert stack.bytes_store.changelog_offset() is None
    stack.bytes_store.write_batch([(b"k", b"v")], 42)
    assert stack.reader.changelog_offset() == 42
    stack.bytes_store.write_batch([(b"k2", b"v")], None)  # None keeps the last offset
    assert stack.reader.changelog_offset() == 42
