"""A batch of records as one blob: the embedded log stores one SQLite row per batch.

Why batches: one row (and one primary-key entry) per record made SQLite's per-row work a
quarter of a stateless pipeline's time. Why a format of our own, not pickle or marshal: the
log outlives the Python that wrote it, so the bytes on disk must not depend on an
interpreter version (see codec.py).

Layout, all little-endian:

    header   <BBI   format version (1), flags, record count n
    deltas   <nI    offset - base offset, only without FLAG_CONTIGUOUS (gaps after compaction)
    ts       <nq    timestamps (ms)
    klens    <ni    key lengths, -1 for a null key
    vlens    <ni    value lengths, -1 for a null value
    hlens    <nI    header-blob lengths (0: no headers), only with FLAG_HEADERS
    data            keys, then values, then header blobs, each concatenated
    crc      <I     zlib.crc32 of (topic id, partition, base offset) as <qqq, then the above

Each array is packed and unpacked by one `struct` call, and decoding slices the data with
bounds from `itertools.accumulate`, so the per-record work runs in C. The CRC covers the
row's topic id, partition and base offset, which live in their own columns, so a damaged row
cannot move records to other offsets or partitions either.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, compress, pairwise
from typing import Any, NamedTuple

from streamz_kit.transport.embedded.codec import decode_headers

FORMAT = 1
FLAG_NULL_KEY = 1
FLAG_NULL_VALUE = 2
FLAG_HEADERS = 4
FLAG_CONTIGUOUS = 8
_KNOWN_FLAGS = 15

MAX_RECORDS = 2000  # per batch: a small max_records fetch never decodes a huge blob
MAX_BYTES = 1 << 20  # keys + values + headers per batch (one larger record gets its own)

_HEAD = struct.Struct("<BBI")
_CRC = struct.Struct("<I")
_WHERE = struct.Struct("<qqq")  # topic id, partition, base offset: seeds the CRC
_pack = struct.pack
_unpack_from = struct.unpack_from
_crc32 = zlib.crc32


class Batch(NamedTuple):
    """Decoded columns of one batch (or part of one), in offset order.

    `headers` is None when no record has headers; else one entry per record: decoded tuples,
    or the raw blobs (None or b'' for none) when decoded with `headers=False`.
    """

    offsets: Sequence[int]
    timestamps: Sequence[int]
    keys: Sequence[bytes | None]
    values: Sequence[bytes | None]
    headers: Sequence[Any] | None

    def cut(self, start: int, stop: int | None = None) -> Batch:
        """Records [start:stop] of this batch; slicing a range or tuple is cheap."""
        h = self.headers
        return Batch(
            self.offsets[start:stop],
            self.timestamps[start:stop],
            self.keys[start:stop],
            self.values[start:stop],
            None if h is None else h[start:stop],
        )


class DamagedBatch(Exception):
    """Raised by `decode`; the log turns it into a BrokerError naming the file and offsets."""


def encode(
    base: int,
    offsets: Sequence[int] | None,
    timestamps: Sequence[int],
    keys: Sequence[bytes | None],
    values: Sequence[bytes | None],
    header_blobs: Sequence[bytes | None] | None,
    where: tuple[int, int] = (0, 0),
) -> bytes:
    """`offsets` None means base, base+1, ...; `header_blobs` None means no record has any;
    `where` (topic id, partition) goes into the CRC with `base`, not into the payload."""
    n = len(keys)
    flags = 0
    parts: list[bytes] = [b""]
    if offsets is not None and offsets[-1] - base != n - 1:
        parts.append(_pack(f"<{n}I", *[o - base for o in offsets]))
    else:
        flags |= FLAG_CONTIGUOUS
    parts.append(_pack(f"<{n}q", *timestamps))
    if None in keys:
        flags |= FLAG_NULL_KEY
        parts.append(_pack(f"<{n}i", *[-1 if k is None else len(k) for k in keys]))
    else:
        parts.append(_pack(f"<{n}i", *map(len, keys)))  # type: ignore[arg-type]
    if None in values:
        flags |= FLAG_NULL_VALUE
        parts.append(_pack(f"<{n}i", *[-1 if v is None else len(v) for v in values]))
    else:
        parts.append(_pack(f"<{n}i", *map(len, values)))  # type: ignore[arg-type]
    if header_blobs is not None:
        flags |= FLAG_HEADERS
        parts.append(_pack(f"<{n}I", *[len(h) if h else 0 for h in header_blobs]))
    parts[0] = _HEAD.pack(FORMAT, flags, n)
    parts.append(b"".join(filter(None, keys)))  # filter drops None and b'': same bytes
    parts.append(b"".join(filter(None, values)))
    if header_blobs is not None:
        parts.append(b"".join(filter(None, header_blobs)))
    body = b"".join(parts)
    return body + _CRC.pack(_crc32(body, _crc32(_WHERE.pack(*where, base))))


def decode(
    payload: bytes,
    base: int,
    *,
    headers: bool = True,
    where: tuple[int, int] = (0, 0),
    keys_only: bool = False,
    select: Sequence[int] | None = None,
) -> Batch:
    """Columns of a batch; header blobs decoded to tuples when `headers`, else left raw.
    `keys_only`: offsets, timestamps and keys, no headers, and in place of the values their
    LENGTHS (-1: a null value): what compaction's first pass needs, at about half the
    slicing. `select`: only the records at these offsets (ascending, each in the batch),
    header blobs raw: what compaction keeps of a batch, without slicing what it drops.

    Raises DamagedBatch when the CRC or the layout does not hold.
    """
    size = len(payload)
    if size < _HEAD.size + _CRC.size:
        raise DamagedBatch("too short")
    body = memoryview(payload)[:-4]
    if _crc32(body, _crc32(_WHERE.pack(*where, base))) != _CRC.unpack_from(payload, size - 4)[0]:
        raise DamagedBatch("checksum mismatch")
    version, flags, n = _HEAD.unpack_from(payload, 0)
    if version != FORMAT or flags & ~_KNOWN_FLAGS or n == 0:
        raise DamagedBatch(f"unknown format {version}/{flags} or empty")
    try:
        pos = _HEAD.size
        offsets: Sequence[int]
        if flags & FLAG_CONTIGUOUS:
            offsets = range(base, base + n)
        else:
            offsets = [base + d for d in _unpack_from(f"<{n}I", payload, pos)]
            pos += 4 * n
        timestamps = _unpack_from(f"<{n}q", payload, pos)
        pos += 8 * n
        klens = _unpack_from(f"<{n}i", payload, pos)
        pos += 4 * n
        vlens = _unpack_from(f"<{n}i", payload, pos)
        pos += 4 * n
        if flags & FLAG_HEADERS:
            hlens = _unpack_from(f"<{n}I", payload, pos)
            pos += 4 * n
        if keys_only:  # the CRC above covered the rest
            only, _ = _slices(payload, pos, klens, flags & FLAG_NULL_KEY)
            return Batch(offsets, timestamps, only, vlens, None)
        if select is not None:
            hl = hlens if flags & FLAG_HEADERS else None
            return _select(payload, pos, base, flags, offsets, timestamps, klens, vlens, hl, select)
        both, pos = _slices(payload, pos, klens + vlens, flags & (FLAG_NULL_KEY | FLAG_NULL_VALUE))
        keys = both[:n]
        values = both[n:]
        blobs: list[Any] | None = None
        if flags & FLAG_HEADERS:
            blobs, pos = _slices(payload, pos, hlens, 0)
            if headers:
                blobs = [decode_headers(b) if b else () for b in blobs]
    except struct.error as exc:
        raise DamagedBatch(str(exc)) from exc
    if pos != size - 4:
        raise DamagedBatch("lengths do not add up")
    return Batch(offsets, timestamps, keys, values, blobs)


def _select(
    payload: bytes,
    pos: int,
    base: int,
    flags: int,
    offsets: Sequence[int],
    timestamps: tuple[int, ...],
    klens: tuple[int, ...],
    vlens: tuple[int, ...],
    hlens: tuple[int, ...] | None,
    wanted: Sequence[int],
) -> Batch:
    """`decode(select=...)`: the bounds of every record come from `accumulate` (in C); only
    the wanted records are sliced."""
    if type(offsets) is range:
        index = [o - base for o in wanted]
    else:  # sorted offsets with gaps: find each wanted one
        index = [bisect_left(offsets, o) for o in wanted]
    if len(index) and (index[-1] >= len(klens) or offsets[index[-1]] != wanted[-1]):
        raise DamagedBatch("a selected offset is not in the batch")
    kends = list(accumulate(_lengths(klens, flags & FLAG_NULL_KEY), initial=pos))
    vends = list(accumulate(_lengths(vlens, flags & FLAG_NULL_VALUE), initial=kends[-1]))
    end = vends[-1]
    hends: list[int] | None = None
    if hlens is not None:
        hends = list(accumulate(hlens, initial=end))
        end = hends[-1]
    if end != len(payload) - 4:
        raise DamagedBatch("lengths do not add up")
    keys = [payload[kends[i] : kends[i + 1]] if klens[i] >= 0 else None for i in index]
    values = [payload[vends[i] : vends[i + 1]] if vlens[i] >= 0 else None for i in index]
    blobs = None if hends is None else [payload[hends[i] : hends[i + 1]] for i in index]
    return Batch(list(wanted), [timestamps[i] for i in index], keys, values, blobs)


def _lengths(lens: tuple[int, ...], nulls: int) -> Sequence[int]:
    """Byte lengths in the data: a null (-1) takes none; without nulls none may be negative."""
    if nulls:
        return [n if n > 0 else 0 for n in lens]
    if min(lens, default=0) < 0:
        raise DamagedBatch("negative length")
    return lens


def _slices(
    payload: bytes, pos: int, lens: tuple[int, ...], nulls: int
) -> tuple[list[bytes | None], int]:
    if nulls:
        ends = list(accumulate([max(n, 0) for n in lens], initial=pos))
        out: list[bytes | None] = [payload[a:b] for a, b in pairwise(ends)]
        for i in compress(range(len(lens)), [n < 0 for n in lens]):
            out[i] = None
    else:
        ends = list(accumulate(lens, initial=pos))
        if min(lens, default=0) < 0:
            raise DamagedBatch("negative length")
        out = [payload[a:b] for a, b in pairwise(ends)]
    return out, ends[-1]


# a `batches` row, in column order: topic id, partition, base, last, count, payload, max ts
Row = tuple[int, int, int, int, int, bytes, int]


def pack(
    offsets: Sequence[int],
    timestamps: Sequence[int],
    keys: Sequence[bytes | None],
    values: Sequence[bytes | None],
    header_blobs: Sequence[bytes | None] | None,
    where: tuple[int, int],
) -> list[Row]:
    """Split records (offsets increasing) into batches of at most MAX_RECORDS records and,
    unless one record alone is larger, MAX_BYTES of payload; one row each."""
    rows: list[Row] = []
    n = len(offsets)
    for i in range(0, n, MAX_RECORDS):
        j = min(i + MAX_RECORDS, n)
        _pack_range(rows, where, offsets, timestamps, keys, values, header_blobs, i, j)
    return rows


def _pack_range(
    rows: list[Row],
    where: tuple[int, int],
    offsets: Sequence[int],
    timestamps: Sequence[int],
    keys: Sequence[bytes | None],
    values: Sequence[bytes | None],
    header_blobs: Sequence[bytes | None] | None,
    i: int,
    j: int,
) -> None:
    hb = None if header_blobs is None else header_blobs[i:j]
    if hb is not None and not any(hb):
        hb = None
    payload = encode(offsets[i], offsets[i:j], timestamps[i:j], keys[i:j], values[i:j], hb, where)
    if len(payload) > MAX_BYTES and j - i > 1:
        mid = i + (j - i) // 2  # rare (large values): halve until each part fits
        _pack_range(rows, where, offsets, timestamps, keys, values, header_blobs, i, mid)
        _pack_range(rows, where, offsets, timestamps, keys, values, header_blobs, mid, j)
        return
    rows.append((*where, offsets[i], offsets[j - 1], j - i, payload, max(timestamps[i:j])))
