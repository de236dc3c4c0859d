"""Store throughput: put / get / range records/s for memory and RocksDB, and restore.

Run: .venv/bin/python bench/store_throughput.py [--n 200000]
Puts go through the write buffer and one commit (apply_pending), as on the record path;
restore writes 100-byte changelog values in fetch-sized batches (target: > 300k/s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from streamz_kit import serdes
from streamz_kit.state.api import BytesStore
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.keyvalue import KeyValueStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.restore import restore_store
from streamz_kit.state.rocksdb import RocksDBBytesStore
from streamz_kit.transport.port import ConsumedRecord

VALUE = b"x" * 100


def rate(n: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def bench_stack(label: str, make: Callable[[str], BytesStore], n: int) -> None:
    keys = [b"key-%09d" % i for i in range(n)]
    buf = BufferedStore(make("bytes"))

    def put() -> None:
        p = buf.put
        for k in keys:
            p(k, VALUE)
        buf.apply_pending(n)

    def get() -> None:
        g = buf.get
        for k in keys:
            g(k)

    def scan() -> None:
        for i in range(0, n, 10):  # ranges of 10 records
            for _ in buf.range(keys[i], keys[min(i + 9, n - 1)]):
                pass

    print(
        f"{label:8s} bytes   put {rate(n, put):>12,.0f}/s  get {rate(n, get):>12,.0f}/s  "
        f"range(10) {rate(n, scan):>12,.0f} rec/s"
    )

    typed = KeyValueStore(BufferedStore(make("typed")), serdes.STRING, serdes.JSON, "typed")
    skeys = [f"user-{i}" for i in range(n)]
    value = {"count": 1, "name": "abc"}

    def tput() -> None:
        p = typed.put
        for k in skeys:
            p(k, value)
        typed.buffer.apply_pending(n)

    def tget() -> None:
        g = typed.get
        for k in skeys:
            g(k)

    print(f"{label:8s} typed   put {rate(n, tput):>12,.0f}/s  get {rate(n, tget):>12,.0f}/s")

    restored = BufferedStore(make("restore"))
    batch = 5000
    records = [ConsumedRecord("app-s-changelog", 0, i, 0, keys[i], VALUE) for i in range(n)]
    batches = [records[i : i + batch] for i in range(0, n, batch)]

    def restore() -> None:
        for b in batches:
            restore_store(restored, b)

    print(
        f"{label:8s} restore (100-byte values, batches of {batch}) {rate(n, restore):>12,.0f} rec/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_stack("memory", InMemoryBytesStore, args.n)
        bench_stack("rocksdb", lambda name: RocksDBBytesStore(name, Path(tmp) / name), args.n)


if __name__ == "__main__":
    main()
