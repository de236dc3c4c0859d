"""Store builders: how the DSL and Processor API users declare state stores.

A `StoreBuilder` is a description (name, kind, serdes, logging, caching, retention); each
task calls `build()` to get its own typed store over its own bytes store:

    typed store (serdes)  ->  BufferedStore (commit protocol)  ->  RocksDB | memory

RocksDB stores live at `<task state dir>/<store name>/`; memory stores ignore the dir.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from streamz_kit.errors import ConfigError, TopologyError
from streamz_kit.serdes import Serde
from streamz_kit.state.api import BytesStore
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.keyvalue import KeyValueStore, TimestampedKeyValueStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.rocksdb import RocksDBBytesStore, RocksDBOptions
from streamz_kit.state.session import SessionStore
from streamz_kit.state.versioned import VersionedKeyValueStore
from streamz_kit.state.window import WindowStore
from streamz_kit.windows import to_millis

__all__ = [
    "RocksDBOptions",
    "StoreBuilder",
    "StoreKind",
    "StoreType",
    "TypedStateStore",
    "key_value_store_builder",
    "session_store_builder",
    "timestamped_key_value_store_builder",
    "versioned_key_value_store_builder",
    "window_store_builder",
]

StoreKind = Literal["kv", "timestamped_kv", "window", "session", "versioned"]
StoreType = Literal["rocksdb", "memory"]
TypedStateStore = (
    KeyValueStore | TimestampedKeyValueStore | WindowStore | SessionStore | VersionedKeyValueStore
)

_LEGAL_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class StoreBuilder:
    """What a store is; `build` makes one instance of it for one task."""

    name: str
    kind: StoreKind
    store: StoreType = "rocksdb"
    key_serde: Serde | None = None
    value_serde: Serde | None = None
    logging: bool = True
    caching: bool = True
    retention_ms: int | None = None
    window_size_ms: int | None = None
    retain_duplicates: bool = False
    timestamped: bool = False  # window stores: values carry a record timestamp
    time_ordered: bool = False  # window stores of emit-on-window-close (Kafka's time-ordered)

    def __post_init__(self) -> None:
        if not self.name or not _LEGAL_NAME.match(self.name) or self.name in (".", ".."):
            raise TopologyError(
                f"Store name {self.name!r} is not usable: it becomes a directory and a topic "
                "name, so use only letters, digits, '.', '_' and '-'."
            )
        if self.store not in ("rocksdb", "memory"):
            raise TopologyError(
                f"Store {self.name!r} has store={self.store!r}; use 'rocksdb' or 'memory'."
            )
        if self.kind in ("window", "session", "versioned") and self.retention_ms is None:
            raise TopologyError(f"{self.kind} store {self.name!r} needs a retention_ms.")
        if self.kind == "window" and not self.window_size_ms:
            raise TopologyError(f"Window store {self.name!r} needs a window_size_ms above 0.")

    @property
    def persistent(self) -> bool:
        return self.store == "rocksdb"

    def with_logging_disabled(self) -> StoreBuilder:
        return dataclasses.replace(self, logging=False)

    def with_caching_disabled(self) -> StoreBuilder:
        return dataclasses.replace(self, caching=False)

    def with_serdes(self, key_serde: Serde | None, value_serde: Serde | None) -> StoreBuilder:
        """Fill in serdes the user left out (the DSL knows them from upstream)."""
        return dataclasses.replace(
            self,
            key_serde=self.key_serde or key_serde,
            value_serde=self.value_serde or value_serde,
        )

    def build_bytes_store(
        self, state_dir: Path | None, rocksdb_options: RocksDBOptions | None = None
    ) -> BytesStore:
        if self.store == "memory":
            return InMemoryBytesStore(self.name)
        if state_dir is None:
            raise ConfigError(
                f"RocksDB store {self.name!r} needs a state directory; set state_dir, or "
                "declare the store with store='memory'."
            )
        return RocksDBBytesStore(self.name, Path(state_dir) / self.name, rocksdb_options)

    def build(
        self, state_dir: Path | None, rocksdb_options: RocksDBOptions | None = None
    ) -> TypedStateStore:
        """One task's instance of the store; its `.buffer` runs the commit protocol, driven
        by the task's `StateManager` (state/manager.py)."""
        if self.key_serde is None or self.value_serde is None:
            raise ConfigError(
                f"Store {self.name!r} has no key or value serde; pass key_serde= and "
                "value_serde= (to the builder or to Materialized)."
            )
        buffer = BufferedStore(self.build_bytes_store(state_dir, rocksdb_options))
        typed: TypedStateStore
        if self.kind == "kv":
            typed = KeyValueStore(buffer, self.key_serde, self.value_serde, self.name)
        elif self.kind == "timestamped_kv":
            typed = TimestampedKeyValueStore(buffer, self.key_serde, self.value_serde, self.name)
        elif self.kind == "window":
            typed = WindowStore(
                buffer,
                self.key_serde,
                self.value_serde,
                self.name,
                window_size_ms=self.window_size_ms or 0,
                retention_ms=self.retention_ms or 0,
                retain_duplicates=self.retain_duplicates,
                timestamped=self.timestamped,
                # Kafka keeps emit-on-close windows in a time-ordered store on RocksDB only;
                # in memory it is the plain window store, with the plain retention rule.
                time_ordered=self.time_ordered and self.store == "rocksdb",
            )
        elif self.kind == "versioned":
            typed = VersionedKeyValueStore(
                buffer,
                self.key_serde,
                self.value_serde,
                self.name,
                history_retention_ms=self.retention_ms or 0,
            )
        elif self.kind == "session":
            typed = SessionStore(
                buffer,
                self.key_serde,
                self.value_serde,
                self.name,
                retention_ms=self.retention_ms or 0,
            )
        else:
            raise TopologyError(f"Store {self.name!r} has an unknown kind {self.kind!r}.")
        typed.builder = self
        typed.changelog_enabled = self.logging
        typed.caching_enabled = self.caching
        return typed


def key_value_store_builder(
    name: str, *, store: StoreType = "rocksdb", key_serde: Serde, value_serde: Serde
) -> StoreBuilder:
    """A plain key-value store for the Processor API."""
    return StoreBuilder(name, "kv", store, key_serde, value_serde)


def timestamped_key_value_store_builder(
    name: str, *, store: StoreType = "rocksdb", key_serde: Serde | None, value_serde: Serde | None
) -> StoreBuilder:
    """A key-value store whose values carry their record timestamp (the DSL's tables)."""
    return StoreBuilder(name, "timestamped_kv", store, key_serde, value_serde)


def window_store_builder(
    name: str,
    *,
    store: StoreType = "rocksdb",
    key_serde: Serde | None,
    value_serde: Serde | None,
    retention_ms: timedelta | int,
    window_size_ms: timedelta | int,
    retain_duplicates: bool = False,
    timestamped: bool = False,
) -> StoreBuilder:
    """A window store; retention must cover window size plus grace."""
    retention = to_millis(retention_ms, "retention")
    size = to_millis(window_size_ms, "window size")
    if retention < size:
        raise TopologyError(
            f"Window store {name!r}: retention ({retention} ms) must be at least the window "
            f"size ({size} ms), or windows would expire before they close."
        )
    return StoreBuilder(
        name,
        "window",
        store,
        key_serde,
        value_serde,
        retention_ms=retention,
        window_size_ms=size,
        retain_duplicates=retain_duplicates,
        timestamped=timestamped,
    )


def session_store_builder(
    name: str,
    *,
    store: StoreType = "rocksdb",
    key_serde: Serde | None,
    value_serde: Serde | None,
    retention_ms: timedelta | int,
) -> StoreBuilder:
    """A session store; retention must cover the inactivity gap plus grace."""
    return StoreBuilder(
        name,
        "session",
        store,
        key_serde,
        value_serde,
        retention_ms=to_millis(retention_ms, "retention"),
    )


def versioned_key_value_store_builder(
    name: str,
    *,
    key_serde: Serde | None,
    value_serde: Serde | None,
    history_retention: timedelta | int,
) -> StoreBuilder:
    """A versioned key-value store on RocksDB (KIP-889): every value of a key with the time it
    became valid, readable `as_of` any time within `history_retention` of the latest put."""
    return StoreBuilder(
        name,
        "versioned",
        "rocksdb",
        key_serde,
        value_serde,
        retention_ms=to_millis(history_retention, "history retention"),
    )
