"""When a windowed aggregation emits: on every update (the default) or once per window (KIP-825).

`EmitStrategy.on_window_close()` makes the aggregation forward each window's final result
once, when stream time passes the window's end plus its grace, straight from the window
store, with no suppression buffer in between (Kafka Streams' `EmitStrategy.onWindowClose()`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EmitStrategy"]

ON_WINDOW_UPDATE = "ON_WINDOW_UPDATE"
ON_WINDOW_CLOSE = "ON_WINDOW_CLOSE"


@dataclass(frozen=True)
class EmitStrategy:
    """Pass to `TimeWindowedKStream.emit_strategy(...)` / `SessionWindowedKStream.emit_strategy`."""

    type: str = ON_WINDOW_UPDATE

    @classmethod
    def on_window_update(cls) -> EmitStrategy:
        """Forward every change of every window as it happens (the default)."""
        return cls(ON_WINDOW_UPDATE)

    @classmethod
    def on_window_close(cls) -> EmitStrategy:
        """Forward one final result per window, when the window closes (end + grace)."""
        return cls(ON_WINDOW_CLOSE)

    @property
    def on_close(self) -> bool:
        return self.type == ON_WINDOW_CLOSE
