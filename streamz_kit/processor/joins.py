"""Join nodes with Kafka Streams' semantics: stream-stream, stream-table, stream-global-table
and table-table. Joiners are always called as `joiner(left_value, right_value)`.

Stream-stream joins (KStreamKStreamJoin since KAFKA-10847): each side stores its records in
its own window store (duplicates kept) and looks up the other side's store within the join
window. A left/outer record that found no partner waits in a shared "outer" store keyed by
[timestamp][side][key]; it is emitted with a null partner only once the join window plus
grace has closed (stream time shared by both sides), or dropped from the store when a
partner arrives first.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from streamz_kit.errors import SerializationError
from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.node import Change, Headers
from streamz_kit.processor.table import MaterializingNode
from streamz_kit.processor.versioned import StaleChange
from streamz_kit.serdes import Serde, describe_bytes

__all__ = [
    "JoinWindowNode",
    "LeftOrRightListSerde",
    "StreamGlobalTableJoinNode",
    "StreamStreamJoinNode",
    "StreamTableJoinNode",
    "TableJoinMergeNode",
    "TableMaterializeNode",
    "TableTableJoinNode",
    "TimeTrackers",
]

Joiner = Callable[[Any, Any], Any]
_MAX = (1 << 63) - 1
_BIAS = 1 << 63
_TS_SIDE = struct.Struct(">QB")
_SIDE_LEN = struct.Struct(">BI")


class LeftOrRightListSerde:
    """Values of the outer-join store: every unmatched record of one (timestamp, side, key),
    each as [1 side][4 length][value bytes]."""

    def __init__(self, left: Serde, right: Serde) -> None:
        self.left = left
        self.right = right

    def serialize(self, topic: str, items: Any) -> bytes | None:
        if items is None:
            return None
        parts = []
        for is_left, value in items:
            vb = (self.left if is_left else self.right).serialize(topic, value) or b""
            parts.append(_SIDE_LEN.pack(1 if is_left else 0, len(vb)) + vb)
        return b"".join(parts)

    def deserialize(self, topic: str, data: bytes | None) -> Any:
        if data is None:
            return None
        out, pos = [], 0
        try:
            while pos < len(data):
                side, n = _SIDE_LEN.unpack_from(data, pos)
                pos += 5
                serde = self.left if side else self.right
                out.append((bool(side), serde.deserialize(topic, data[pos : pos + n])))
                pos += n
        except struct.error as exc:
            raise SerializationError(
                f"Malformed outer-join store value in {topic!r}: {describe_bytes(data)}. "
                "Reset the application if the store was written by another version."
            ) from exc
        return out


class TimeTracker:
    """Stream time and the oldest pending outer record, shared by both sides of a join."""

    __slots__ = ("min_time", "stream_time")

    def __init__(self) -> None:
        self.stream_time = -1
        self.min_time = _MAX


class TimeTrackers:
    """One TimeTracker per task, found by both join nodes of that task."""

    def __init__(self) -> None:
        self._by_task: dict[int, TimeTracker] = {}

    def get(self, context: TaskContext) -> TimeTracker:
        return self._by_task.setdefault(id(context), TimeTracker())

    def release(self, context: TaskContext) -> None:
        self._by_task.pop(id(context), None)


class JoinWindowNode(StatefulNode):
    """Puts each record into its side's window store, then passes it on to the join."""

    def __init__(self, name: str, store_name: str) -> None:
        super().__init__(name, store_name)
        self.observed = -1

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if key is not None and value is not None:
            if timestamp > self.observed:
                self.observed = timestamp
                self.store.expire(timestamp)
            self.store.put(key, value, timestamp)
        self.forward(key, value, timestamp, headers)


class StreamStreamJoinNode(StatefulNode):
    """One side of a windowed stream-stream join (inner, left or outer)."""

    def __init__(
        self,
        name: str,
        *,
        is_left: bool,
        other_store: str,
        outer_store: str | None,
        outer: bool,
        before_ms: int,
        after_ms: int,
        grace_ms: int,
        joiner: Joiner,
        key_serde: Serde,
        trackers: TimeTrackers,
    ) -> None:
        super().__init__(name, other_store)
        self.is_left = is_left
        self.outer_store_name = outer_store
        self.outer = outer
        # The window as seen from this side: the right side looks the other way.
        self.join_before = before_ms if is_left else after_ms
        self.join_after = after_ms if is_left else before_ms
        self.windows_before = before_ms
        self.windows_after = after_ms
        self.grace = grace_ms
        self.joiner = joiner
        self.key_serde = key_serde
        self.trackers = trackers
        self.outer_store: Any = None
        self.tracker = TimeTracker()

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.tracker = self.trackers.get(context)
        if self.outer_store_name is not None:
            self.outer_store = context.get_store(self.outer_store_name)
            for store_key, _ in self.outer_store.all():  # pending records survive a restart
                ts = _TS_SIDE.unpack_from(store_key)[0] - _BIAS
                self.tracker.min_time = min(self.tracker.min_time, ts)
                break

    def close(self) -> None:
        context = self.__dict__.get("context")  # None when the task never ran
        if context is not None:
            self.trackers.release(context)

    def _join(self, this: Any, other: Any) -> Any:
        try:
            return self.joiner(this, other) if self.is_left else self.joiner(other, this)
        except Exception as exc:
            raise self.fail(exc) from exc

    def _outer_key(self, is_left: bool, key: Any, timestamp: int) -> bytes:
        kb = self.key_serde.serialize(self.store_name, key) or b""
        return _TS_SIDE.pack(timestamp + _BIAS, 1 if is_left else 0) + kb

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        tracker = self.tracker
        tracker.stream_time = max(tracker.stream_time, timestamp)
        if self.outer and key is None and value is not None:
            self.forward(key, self._join(value, None), timestamp, headers)
            return
        if key is None or value is None:
            self.skip("null key or value", key)
            return
        outer_store = self.outer_store
        if outer_store is not None and timestamp == tracker.stream_time:
            self._emit_non_joined(headers)
        time_from = max(0, timestamp - self.join_before)
        time_to = max(0, timestamp + self.join_after)
        matches = self.store.fetch(key, time_from, time_to)
        for other_ts, other_value in matches:
            if outer_store is not None:
                outer_store.delete(self._outer_key(not self.is_left, key, other_ts))
            result_ts = max(other_ts, timestamp)
            self.forward(key, self._join(value, other_value), result_ts, headers)
        if self.outer and not matches:
            if outer_store is None or time_to < tracker.stream_time:
                self.forward(key, self._join(value, None), timestamp, headers)
            else:
                tracker.min_time = min(tracker.min_time, timestamp)
                store_key = self._outer_key(self.is_left, key, timestamp)
                pending = outer_store.get(store_key) or []
                pending.append((self.is_left, value))
                outer_store.put(store_key, pending)

    def _emit_non_joined(self, headers: Headers) -> None:
        """Emit unmatched records whose join window (plus grace) has closed, oldest first."""
        tracker = self.tracker
        if tracker.min_time + self.join_after + self.grace >= tracker.stream_time:
            return
        tracker.min_time = _MAX
        store = self.outer_store
        emitted: list[bytes] = []
        left_open = right_open = False
        entries: Iterator[tuple[bytes, Any]] = store.all()
        for store_key, pending in entries:
            ts_biased, side = _TS_SIDE.unpack_from(store_key)
            ts = ts_biased - _BIAS
            tracker.min_time = ts
            if left_open and right_open:
                break
            is_left = side == 1
            lookback = self.windows_after if is_left else self.windows_before
            if ts + lookback + self.grace >= tracker.stream_time:
                if is_left:
                    left_open = True
                else:
                    right_open = True
                continue
            key = self.key_serde.deserialize(self.store_name, store_key[9:])
            for pending_left, value in pending:
                try:
                    result = self.joiner(value, None) if pending_left else self.joiner(None, value)
                except Exception as exc:
                    raise self.fail(exc) from exc
                self.forward(key, result, ts, headers)
            emitted.append(store_key)
        for store_key in emitted:
            store.put(store_key, None)


class StreamTableJoinNode(StatefulNode):
    """KStream-KTable join: look the stream record's key up in the table's store.

    As Kafka's KStreamKTableJoinProcessor (KIP-962): a null value is skipped; a null key is
    skipped by the inner join, while the left join emits `joiner(value, None)` for it.
    """

    def __init__(self, name: str, store_name: str, joiner: Joiner, left: bool) -> None:
        super().__init__(name, store_name)
        self.joiner = joiner
        self.left = left

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        if value is None or (key is None and not self.left):
            self.skip("null join key or value", key)
            return
        other = None
        if key is not None:
            store = self.store
            # A versioned table answers with the row valid at the stream record's time
            # (KIP-914).
            other = store.get(key, as_of=timestamp) if store.kind == "versioned" else store.get(key)
        if other is None and not self.left:
            return
        try:
            result = self.joiner(value, other)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(key, result, timestamp, headers)


class StreamGlobalTableJoinNode(StatefulNode):
    """KStream-GlobalKTable join: the lookup key comes from `key_fn(key, value)`.

    As Kafka's KStreamKTableJoinProcessor: `key_fn` is asked first, even for a null value;
    a null value is skipped, and so is a null lookup key, except by the left join, which
    emits `joiner(value, None)` for it. The stream's own key plays no part.
    """

    def __init__(
        self,
        name: str,
        store_name: str,
        key_fn: Callable[[Any, Any], Any],
        joiner: Joiner,
        left: bool,
    ) -> None:
        super().__init__(name, store_name)
        self.key_fn = key_fn
        self.joiner = joiner
        self.left = left

    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        try:
            lookup = self.key_fn(key, value)
        except Exception as exc:
            raise self.fail(exc) from exc
        if value is None or (lookup is None and not self.left):
            self.skip("null join key or value", key)
            return
        other = None if lookup is None else self.store.get(lookup)
        if other is None and not self.left:
            return
        try:
            result = self.joiner(value, other)
        except Exception as exc:
            raise self.fail(exc) from exc
        self.forward(key, result, timestamp, headers)


class TableMaterializeNode(StatefulNode):
    """Keeps an unmaterialized table's current values so a join can read them."""

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is not None:
            if change.new is None:
                self.store.delete(key)
            else:
                self.store.put(key, change.new, timestamp)
        self.forward(key, change, timestamp, headers)


class TableTableJoinNode(StatefulNode):
    """One side of a KTable-KTable join. `mode` is how this side treats a missing partner:
    "inner" (no result), "left" (this side is kept), "right" (the partner side is kept,
    this side may be null) or "outer" (both kept), as Kafka's KTableKTable*Join."""

    def __init__(
        self,
        name: str,
        other_store: str,
        *,
        is_left: bool,
        mode: str,
        joiner: Joiner,
        send_old_values: Callable[[], bool],
    ) -> None:
        super().__init__(name, other_store)
        self.is_left = is_left
        self.mode = mode
        self.joiner = joiner
        self._send_old_values = send_old_values
        self.send_old_values = False

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.send_old_values = self._send_old_values()

    def _join(self, this: Any, other: Any) -> Any:
        try:
            return self.joiner(this, other) if self.is_left else self.joiner(other, this)
        except Exception as exc:
            raise self.fail(exc) from exc

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        if type(change) is StaleChange:  # an out-of-order version: the join result stands
            self.skip("out-of-order versioned table update", key)
            return
        found = self.store.get_with_timestamp(key)
        other = None if found is None else found[0]
        mode = self.mode
        new = old = None
        if other is None:
            if mode in ("inner", "right"):
                return
            if change.new is None and change.old is None:
                return
            ts = timestamp
        else:
            ts = max(found[1], timestamp)
        if mode == "right":
            new = self._join(change.new, other)
            if self.send_old_values:
                old = self._join(change.old, other)
        else:
            keep_other = mode == "outer" and other is not None
            if change.new is not None or keep_other:
                new = self._join(change.new, other)
            if self.send_old_values and (change.old is not None or keep_other):
                old = self._join(change.old, other)
        self.forward(key, Change(new, old), ts, headers)


class TableJoinMergeNode(MaterializingNode):
    """Both sides' results become one table; materialized if the user asked for a store."""

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        store = self.store
        if store is None:
            self.forward(key, change, timestamp, headers)
            return
        old = store.get(key) if self.send_old_values else None
        if change.new is None:
            store.delete(key)
        else:
            store.put(key, change.new, timestamp)
        self.forward(key, Change(change.new, old), timestamp, headers)
