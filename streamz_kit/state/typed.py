"""What every typed store shares: its buffer, serdes, name and builder.

Typed stores are the only layer that knows serdes; everything below handles bytes.
The task's `StateManager` drives the commit protocol through `.buffer` (a `BufferedStore`).
"""

from __future__ import annotations

from typing import Any

from streamz_kit.serdes import Serde
from streamz_kit.state.buffered import BufferedStore

__all__ = ["TypedStore"]


class TypedStore:
    """Base of the key-value, window and session stores."""

    kind = "kv"

    def __init__(
        self, buffer: BufferedStore, key_serde: Serde, value_serde: Serde, name: str
    ) -> None:
        self.buffer = buffer
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.name = name
        self.builder: Any = None  # set by StoreBuilder.build
        self.changelog_enabled = True
        self.caching_enabled = True
        # Serdes are called with the store name as the topic (it names the data's home).
        self._topic = name

    @property
    def persistent(self) -> bool:
        return self.buffer.persistent

    def flush_cache(self) -> None:
        """Hand the values cached as objects to the buffer (state/object_cache.py); the
        commit calls it before reading the buffer's pending changes. Stores without an
        object cache have nothing to hand over."""

    def close(self) -> None:
        self.buffer.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.buffer.inner!r})"
