"""`StateManager`: the one owner of a task's state stores (Kafka's ProcessorStateManager).

Everything the runtime does with a task's stores goes through here, so the commit protocol
of the write buffer (`store.buffer`) has one caller:
- `restore_targets()`: each logged store with the changelog partition it restores from;
- `changelog_records(ts)`: the pending changes of this commit, as changelog records;
- `apply(written)`: after the commit, write each store's changes together with the changelog
  offset they reflect (one atomic batch per store), so a store never holds uncommitted data;
- `discard()`: forget the pending changes (the transaction aborted);
- `close()`: close the stores this task owns. Global stores are shared by every task and
  are never handed to a task's manager, so closing a task can never close them.

Standby tasks and global stores use the same objects: a standby's manager only restores,
and `checkpoint(name, next_offset)` writes a global store's pending updates with the source
offset they reflect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

from streamz_kit.errors import StateStoreError
from streamz_kit.state.restore import restore_from_source, restore_store
from streamz_kit.transport.port import ConsumedRecord, ProducerRecord, TopicPartition

__all__ = ["ChangelogTarget", "StateManager"]

_new = tuple.__new__


def _nothing() -> None:
    """The flush of a store with no object cache."""


class ChangelogTarget:
    """One logged store and the changelog partition it is restored from.

    `from_source`: the store's changelog is its table's own source topic (topology
    optimization); records replay through the store's serdes, and restoration stops at
    `end` (the group's committed offset: later records are processed, not restored)."""

    __slots__ = ("end", "from_source", "partition", "store")

    def __init__(self, store: Any, partition: TopicPartition, from_source: bool = False) -> None:
        self.store = store
        self.partition = partition
        self.from_source = from_source
        self.end: int | None = None

    @property
    def name(self) -> str:
        return str(self.store.name)

    def next_offset(self) -> int | None:
        """The changelog offset the store's content reaches (None: never written)."""
        offset: int | None = self.store.buffer.changelog_offset()
        return offset

    def wipe(self) -> None:
        """Empty the store (its changelog was recreated behind it, e.g. by a reset)."""
        self.store.buffer.wipe()

    def restore(self, records: Sequence[ConsumedRecord]) -> None:
        """Write fetched changelog records into the store, in one batch."""
        if self.from_source:
            restore_from_source(self.store, records)
        else:
            restore_store(self.store.buffer, records)


class StateManager:
    """The stores one task owns, keyed by name (see the module docstring)."""

    def __init__(
        self,
        task_id: str,
        partition: int,
        changelog_topic: Callable[[str], str],
        stores: Mapping[str, Any] | None = None,
        source_changelogs: Mapping[str, str] | None = None,
    ) -> None:
        """`source_changelogs` names the stores whose changelog is their table's source
        topic (store -> topic): they restore from it and are positioned by the input
        offsets the task commits, not by changelog records."""
        self.task_id = task_id
        self.partition = partition
        self.stores: dict[str, Any] = {}
        self._changelog_topic = changelog_topic
        self._source_topics = dict(source_changelogs or {})
        self._changelog: dict[str, TopicPartition] = {}
        self._source: dict[str, TopicPartition] = {}
        # Next input offset of each source-topic changelog as of the last commit.
        self._positions: dict[TopicPartition, int] = {}
        for name, store in (stores or {}).items():
            self.register(name, store)

    def register(self, name: str, store: Any) -> Any:
        """Take ownership of a store as soon as it is opened (so a failure while opening
        the next one still closes it); returns the store."""
        self.stores[name] = store
        source = self._source_topics.get(name)
        if source is not None:
            self._source[name] = TopicPartition(source, self.partition)
        elif store.changelog_enabled:
            self._changelog[name] = TopicPartition(self._changelog_topic(name), self.partition)
        return store

    def restore_targets(self) -> list[ChangelogTarget]:
        targets = [ChangelogTarget(self.stores[n], tp) for n, tp in self._changelog.items()]
        targets += [ChangelogTarget(self.stores[n], tp, True) for n, tp in self._source.items()]
        return targets

    def consumed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """The input offsets a commit is about to make durable: the position of stores
        whose changelog is a source topic."""
        if self._source:
            for tp in self._source.values():
                if tp in offsets:
                    self._positions[tp] = offsets[tp]

    def changelog_records(self, timestamp: int) -> list[ProducerRecord]:
        """This commit's pending changes of every logged store, as changelog records.
        Every store's object cache is flushed first (unlogged stores' too: `apply` writes
        what their buffers hold)."""
        out: list[ProducerRecord] = []
        self.flush_caches()
        for name, tp in self._changelog.items():
            pending = self.stores[name].buffer.pending
            if pending:
                topic, partition = tp
                # A commit can carry tens of thousands of changelog records: each is built
                # by map/zip/tuple.__new__ in C, no Python bytecode per record.
                n = len(pending)
                out.extend(
                    map(
                        _new,
                        repeat(ProducerRecord, n),
                        zip(
                            repeat(topic),
                            repeat(partition),
                            pending.keys(),
                            pending.values(),
                            repeat(timestamp),
                            repeat(()),
                        ),
                    )
                )
        return out

    def apply(self, written: Mapping[TopicPartition, int]) -> None:
        """After the commit: write every store's pending changes, with the changelog offset
        that follows the last record `written` for it (None for unlogged stores).
        Object caches are not flushed here: `changelog_records` did that for this commit,
        and what they hold now was written after it (it belongs to the next commit)."""
        for name, store in self.stores.items():
            buffer = store.buffer
            if not buffer.has_pending():
                continue
            source = self._source.get(name)
            if source is not None:  # the store's position is the source topic's
                next_offset = self._positions.get(source)
            else:
                tp = self._changelog.get(name)
                last = None if tp is None else written.get(tp)
                next_offset = None if last is None else last + 1
            try:
                buffer.apply_pending(next_offset)
            except Exception as exc:
                # The commit already happened: the changes are safe in the changelog and the
                # next start restores them. Stop rather than run on with a store behind.
                raise StateStoreError(
                    f"Writing state store {name!r} of task {self.task_id} failed ({exc}); "
                    "is the disk full? Work committed so far is safe in the changelog and "
                    "is restored on the next start: free space (or fix the state "
                    "directory) and start the worker again."
                ) from exc

    def checkpoint(self, name: str, next_offset: int) -> None:
        """Write one store's pending changes with the source offset they reflect (global
        stores, whose changelog is their source topic)."""
        store = self.stores[name]
        getattr(store, "flush_cache", _nothing)()
        store.buffer.apply_pending(next_offset)

    def flush_caches(self) -> None:
        """Every store's object cache into its buffer: the commit reads the buffers next
        (an unlogged store's too, as `apply` writes it)."""
        for store in self.stores.values():
            getattr(store, "flush_cache", _nothing)()

    def changelog_offset(self, name: str) -> int | None:
        offset: int | None = self.stores[name].buffer.changelog_offset()
        return offset

    def discard(self) -> None:
        """Forget every pending change (the transaction holding them aborted)."""
        for store in self.stores.values():
            store.buffer.discard_pending()

    def close(self) -> None:
        """Close every store this manager owns (never a global store: it holds none)."""
        for store in self.stores.values():
            store.close()
