"""Punctuation schedules of one task, for stream time and wall-clock time (Kafka's rules).

A stream-time schedule first fires on the first record (its start is 0) and then whenever
stream time reaches the next multiple of its interval; the callback gets the current stream
time. A wall-clock schedule first fires one interval after it was made.
"""

from __future__ import annotations

from collections.abc import Callable

from streamz_kit.processor.api import PunctuationType


class Punctuation:
    __slots__ = ("callback", "cancelled", "interval", "next_time", "owner")

    def __init__(self, interval: int, callback: Callable[[int], None], start: int, owner: object):
        self.interval = interval
        self.callback = callback
        self.next_time = start
        self.cancelled = False
        self.owner = owner

    def cancel(self) -> None:
        self.cancelled = True

    def due(self, now: int) -> bool:
        return not self.cancelled and now >= self.next_time

    def advance(self, now: int) -> None:
        if self.next_time <= now:
            steps = (now - self.next_time) // self.interval + 1
            self.next_time += steps * self.interval


class PunctuationQueue:
    def __init__(self) -> None:
        self.stream_time: list[Punctuation] = []
        self.wall_clock: list[Punctuation] = []

    def schedule(
        self,
        interval: int,
        kind: PunctuationType,
        callback: Callable[[int], None],
        owner: object,
        wall_now: int,
    ) -> Punctuation:
        if kind is PunctuationType.STREAM_TIME:
            punctuation = Punctuation(interval, callback, 0, owner)
            self.stream_time.append(punctuation)
        else:
            punctuation = Punctuation(interval, callback, wall_now + interval, owner)
            self.wall_clock.append(punctuation)
        return punctuation

    @staticmethod
    def _fire(schedules: list[Punctuation], now: int) -> int:
        fired = 0
        for punctuation in list(schedules):
            if punctuation.due(now):
                punctuation.advance(now)
                punctuation.callback(now)
                fired += 1
        schedules[:] = [p for p in schedules if not p.cancelled]
        return fired

    def fire_stream_time(self, stream_time: int) -> int:
        if not self.stream_time:
            return 0
        return self._fire(self.stream_time, stream_time)

    def fire_wall_clock(self, now: int) -> int:
        if not self.wall_clock:
            return 0
        return self._fire(self.wall_clock, now)
