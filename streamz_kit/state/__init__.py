"""State stores: bytes stores (RocksDB, memory), the write buffer, typed views, restore."""

from streamz_kit.state.api import BytesStore, Change
from streamz_kit.state.buffered import BufferedStore
from streamz_kit.state.keyvalue import KeyValueStore, TimestampedKeyValueStore
from streamz_kit.state.memory import InMemoryBytesStore
from streamz_kit.state.restore import restore_store
from streamz_kit.state.rocksdb import RocksDBBytesStore, RocksDBOptions
from streamz_kit.state.session import SessionStore
from streamz_kit.state.typed import TypedStore
from streamz_kit.state.views import (
    ReadOnlyKeyValueView,
    ReadOnlySessionView,
    ReadOnlyWindowView,
    read_only_view,
)
from streamz_kit.state.window import WindowStore

__all__ = [
    "BufferedStore",
    "BytesStore",
    "Change",
    "InMemoryBytesStore",
    "KeyValueStore",
    "ReadOnlyKeyValueView",
    "ReadOnlySessionView",
    "ReadOnlyWindowView",
    "RocksDBBytesStore",
    "RocksDBOptions",
    "SessionStore",
    "TimestampedKeyValueStore",
    "TypedStore",
    "WindowStore",
    "read_only_view",
    "restore_store",
]
