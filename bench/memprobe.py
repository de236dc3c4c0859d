"""Where a long-running worker's memory goes: a probe the soak's worker can run in-process.

    python bench/sk_runner.py --serve ... --memprobe FILE --memprobe-s 60 [--tracemalloc]

Every `--memprobe-s` seconds it appends one JSON line to FILE with
- `rss_mb`, and glibc's own account (`mallinfo2`: bytes in use by malloc, bytes free inside
  its arenas, bytes in mmapped blocks): RSS far above "in use" is fragmentation, not a leak;
- RocksDB per store kind and in total (every open RocksDBBytesStore, found through the
  garbage collector): memtables (`cur-size-all-mem-tables`), block cache usage and pinned
  usage (each distinct cache counted once), table readers (index and filter blocks held
  outside the cache);
- the Python heap through tracemalloc when `--tracemalloc` is on: traced bytes, and the
  allocation sites that grew most since the previous line and since the first one;
- with `--tracemalloc`, also the object types whose counts grew most since the first line
  (a walk of every object: left out of untraced runs, whose latency it would disturb).

It answers "what grows" for the soak (bench/soak.py); it is a diagnostic, not a benchmark:
tracemalloc slows the worker down, so figures of a traced run are not latency figures.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

_PROPERTIES = {
    "memtables": "rocksdb.cur-size-all-mem-tables",
    "table_readers": "rocksdb.estimate-table-readers-mem",
    "block_cache": "rocksdb.block-cache-usage",
    "block_cache_pinned": "rocksdb.block-cache-pinned-usage",
    "block_cache_capacity": "rocksdb.block-cache-capacity",
}


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict[str, float]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {
        "malloc_in_use_mb": round((info.uordblks + info.hblkhd) / 1e6, 1),
        "malloc_free_mb": round(info.fordblks / 1e6, 1),
        "malloc_mmap_mb": round(info.hblkhd / 1e6, 1),
    }


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rocksdb_memory() -> dict[str, Any]:
    """RocksDB memory of every open store in this process, by store name and in total."""
    from streamz_kit.state.rocksdb import RocksDBBytesStore

    by_name: dict[str, Counter[str]] = {}
    caches: dict[int, int] = {}  # cache id -> usage, so a cache shared by stores counts once
    stores = 0
    for obj in gc.get_objects():
        if not isinstance(obj, RocksDBBytesStore) or obj._db is None:  # noqa: SLF001
            continue
        stores += 1
        counts = by_name.setdefault(obj.name, Counter())
        values = {k: obj._db.property_int_value(p) or 0 for k, p in _PROPERTIES.items()}  # noqa: SLF001
        counts["memtables"] += values["memtables"]
        counts["table_readers"] += values["table_readers"]
        counts["stores"] += 1
        caches[id(getattr(obj, "_cache", obj))] = values["block_cache"]
    cache_total = sum(caches.values())
    mem = sum(c["memtables"] for c in by_name.values())
    readers = sum(c["table_readers"] for c in by_name.values())
    return {
        "rocksdb_stores": stores,
        "rocksdb_caches": len(caches),
        "rocksdb_memtables_mb": round(mem / 1e6, 1),
        "rocksdb_block_cache_mb": round(cache_total / 1e6, 1),
        "rocksdb_table_readers_mb": round(readers / 1e6, 1),
        "rocksdb_memtables_by_store_mb": {
            n: round(c["memtables"] / 1e6, 1) for n, c in sorted(by_name.items())
        },
    }


def _top_diff(new: tracemalloc.Snapshot, old: tracemalloc.Snapshot, n: int) -> list[str]:
    stats = new.compare_to(old, "lineno")
    return [
        f"{s.size_diff / 1e6:+.2f} MB ({s.count_diff:+d}) {s.traceback[0].filename.split('/')[-1]}"
        f":{s.traceback[0].lineno}"
        for s in sorted(stats, key=lambda s: -s.size_diff)[:n]
    ]


def _type_counts() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


async def run(path: Path, every_s: float, traced: bool) -> None:
    """Append one line to `path` every `every_s` seconds until cancelled."""
    if traced and not tracemalloc.is_tracing():
        tracemalloc.start(1)
    first_snap = prev_snap = tracemalloc.take_snapshot() if traced else None
    first_types = _type_counts() if traced else Counter()
    started = time.monotonic()
    with open(path, "a") as out:
        while True:
            await asyncio.sleep(every_s)
            row: dict[str, Any] = {"t_s": round(time.monotonic() - started), "rss_mb": _rss_mb()}
            row.update(_mallinfo())
            row.update(rocksdb_memory())
            if traced and first_snap is not None and prev_snap is not None:
                types = _type_counts()
                row["types_grown"] = [
                    f"{t} {first_types.get(t, 0)}->{c}"
                    for t, c in sorted(
                        types.items(), key=lambda tc: first_types.get(tc[0], 0) - tc[1]
                    )[:8]
                ]
                snap = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)]
                )
                row["traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 1e6, 1)
                row["grown_since_last"] = _top_diff(snap, prev_snap, 8)
                row["grown_since_first"] = _top_diff(snap, first_snap, 12)
                prev_snap = snap
            out.write(json.dumps(row) + "\n")
            out.flush()
