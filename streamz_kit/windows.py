"""Window specifications and windowed keys, with Kafka Streams' semantics.

Durations are `datetime.timedelta` or int milliseconds. Time windows are half-open
`[start, end)`; session windows are closed `[start, end]`, as in Kafka Streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from streamz_kit.errors import TopologyError

__all__ = [
    "JoinWindows",
    "SessionWindows",
    "SlidingWindows",
    "Suppressed",
    "TimeWindows",
    "Window",
    "Windowed",
    "to_millis",
]

K = TypeVar("K")

# Kafka Streams' default grace for windows built without one (deprecated there, kept
# for windows constructed directly): 24 hours.
DEFAULT_GRACE_MS = 24 * 60 * 60 * 1000


def to_millis(duration: timedelta | int | float, what: str = "duration") -> int:
    """Accept timedelta or milliseconds; refuse negatives with a sentence that says so."""
    if isinstance(duration, timedelta):
        ms = int(duration.total_seconds() * 1000)
    elif isinstance(duration, (int, float)) and not isinstance(duration, bool):
        ms = int(duration)
    else:
        raise TopologyError(
            f"{what} must be a datetime.timedelta or a number of milliseconds, "
            f"not {type(duration).__name__}."
        )
    if ms < 0:
        raise TopologyError(f"{what} must not be negative (got {ms} ms).")
    return ms


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A time interval in epoch milliseconds."""

    start: int
    end: int

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Windowed(Generic[K]):
    """A key together with the window its aggregate belongs to."""

    key: K
    window: Window

    def __str__(self) -> str:
        return f"[{self.key}@{self.window.start}/{self.window.end}]"


class TimeWindows:
    """Fixed-size windows: tumbling when advance == size, hopping when advance < size."""

    def __init__(self, size_ms: int, advance_ms: int, grace_ms: int) -> None:
        if size_ms <= 0:
            raise TopologyError("TimeWindows size must be greater than zero.")
        if advance_ms <= 0 or advance_ms > size_ms:
            raise TopologyError(
                f"TimeWindows advance must be in (0, size]; got advance={advance_ms} ms "
                f"for size={size_ms} ms."
            )
        self.size_ms = size_ms
        self.advance_ms = advance_ms
        self.grace_ms = grace_ms

    @classmethod
    def of_size_with_no_grace(cls, size: timedelta | int) -> TimeWindows:
        size_ms = to_millis(size, "window size")
        return cls(size_ms, size_ms, 0)

    @classmethod
    def of_size_and_grace(cls, size: timedelta | int, grace: timedelta | int) -> TimeWindows:
        size_ms = to_millis(size, "window size")
        return cls(size_ms, size_ms, to_millis(grace, "grace"))

    def advance_by(self, advance: timedelta | int) -> TimeWindows:
        return TimeWindows(self.size_ms, to_millis(advance, "advance"), self.grace_ms)

    def windows_for(self, timestamp: int) -> list[Window]:
        """Every window containing `timestamp`, oldest first (Kafka's windowsFor)."""
        start = max(0, timestamp - self.size_ms + self.advance_ms)
        start -= start % self.advance_ms
        # first aligned start whose window still contains the timestamp
        out = []
        s = start
        while s <= timestamp:
            if s + self.size_ms > timestamp:
                out.append(Window(s, s + self.size_ms))
            s += self.advance_ms
        return out

    @property
    def retention_ms(self) -> int:
        return self.size_ms + self.grace_ms

    def __repr__(self) -> str:
        return (
            f"TimeWindows(size={self.size_ms}ms, advance={self.advance_ms}ms, "
            f"grace={self.grace_ms}ms)"
        )


class SlidingWindows:
    """Windows of a fixed time difference that slide with each record (Kafka's KIP-450)."""

    def __init__(self, time_difference_ms: int, grace_ms: int) -> None:
        if time_difference_ms <= 0:  # Kafka accepts 0, then fails on the first record
            raise TopologyError("SlidingWindows time difference must be greater than zero.")
        self.time_difference_ms = time_difference_ms
        self.grace_ms = grace_ms

    @classmethod
    def of_time_difference_and_grace(
        cls, time_difference: timedelta | int, grace: timedelta | int
    ) -> SlidingWindows:
        return cls(to_millis(time_difference, "time difference"), to_millis(grace, "grace"))

    @classmethod
    def of_time_difference_with_no_grace(cls, time_difference: timedelta | int) -> SlidingWindows:
        return cls(to_millis(time_difference, "time difference"), 0)

    @property
    def size_ms(self) -> int:
        return self.time_difference_ms

    @property
    def retention_ms(self) -> int:
        return 2 * self.time_difference_ms + self.grace_ms

    def __repr__(self) -> str:
        return f"SlidingWindows(diff={self.time_difference_ms}ms, grace={self.grace_ms}ms)"


class SessionWindows:
    """Activity sessions: records closer than the inactivity gap belong to one session."""

    def __init__(self, gap_ms: int, grace_ms: int) -> None:
        if gap_ms < 0:  # zero is allowed, as in Kafka: only equal timestamps merge
            raise TopologyError("SessionWindows inactivity gap must not be negative.")
        self.gap_ms = gap_ms
        self.grace_ms = grace_ms

    @classmethod
    def of_inactivity_gap_and_grace(
        cls, gap: timedelta | int, grace: timedelta | int
    ) -> SessionWindows:
        return cls(to_millis(gap, "inactivity gap"), to_millis(grace, "grace"))

    @classmethod
    def of_inactivity_gap_with_no_grace(cls, gap: timedelta | int) -> SessionWindows:
        return cls(to_millis(gap, "inactivity gap"), 0)

    @property
    def retention_ms(self) -> int:
        return self.gap_ms + self.grace_ms

    def __repr__(self) -> str:
        return f"SessionWindows(gap={self.gap_ms}ms, grace={self.grace_ms}ms)"


class JoinWindows:
    """Stream-stream join window: records join when |t1 - t2| <= time difference."""

    def __init__(self, before_ms: int, after_ms: int, grace_ms: int) -> None:
        self.before_ms = before_ms
        self.after_ms = after_ms
        self.grace_ms = grace_ms

    @classmethod
    def of_time_difference_and_grace(
        cls, time_difference: timedelta | int, grace: timedelta | int
    ) -> JoinWindows:
        diff = to_millis(time_difference, "time difference")
        return cls(diff, diff, to_millis(grace, "grace"))

    @classmethod
    def of_time_difference_without_grace(cls, time_difference: timedelta | int) -> JoinWindows:
        diff = to_millis(time_difference, "time difference")
        return cls(diff, diff, 0)

    def before(self, time_difference: timedelta | int) -> JoinWindows:
        return JoinWindows(to_millis(time_difference, "before"), self.after_ms, self.grace_ms)

    def after(self, time_difference: timedelta | int) -> JoinWindows:
        return JoinWindows(self.before_ms, to_millis(time_difference, "after"), self.grace_ms)

    @property
    def size_ms(self) -> int:
        return self.before_ms + self.after_ms

    @property
    def retention_ms(self) -> int:
        return self.before_ms + self.after_ms + self.grace_ms

    def __repr__(self) -> str:
        return (
            f"JoinWindows(before={self.before_ms}ms, after={self.after_ms}ms, "
            f"grace={self.grace_ms}ms)"
        )


@dataclass(frozen=True)
class Suppressed:
    """Suppression config: hold windowed updates back until the window closes, or hold each
    key's updates back for a time limit (`until_time_limit`)."""

    max_records: int | None = None
    max_bytes: int | None = None
    time_limit_ms: int | None = None

    @classmethod
    def until_time_limit(
        cls, time_to_wait_for_more_events: timedelta | int, *, max_records: int | None = None
    ) -> Suppressed:
        """Emit a key's latest value once stream time is `time_to_wait_for_more_events` past
        its first buffered update; a buffer over `max_records` emits its oldest early."""
        if max_records is not None and max_records < 0:
            raise TopologyError("until_time_limit() max_records cannot be negative.")
        return cls(
            max_records=max_records,
            time_limit_ms=to_millis(time_to_wait_for_more_events, "time limit"),
        )

    @classmethod
    def until_window_closes(
        cls, *, max_records: int | None = None, max_bytes: int | None = None
    ) -> Suppressed:
        return cls(max_records=max_records, max_bytes=max_bytes)
