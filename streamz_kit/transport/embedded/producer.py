"""Producer of the embedded broker: a list in memory, written by one SQLite transaction.

Plain (at_least_once): `send` appends to the queue; `flush` writes the whole queue in one
transaction and returns the last offset per partition.

Transactional (exactly_once): `begin`, `send`, `send_offsets`, then `commit` writes the
records AND the group offsets in ONE SQLite transaction, so exactly-once holds by
construction: nothing of an unfinished or aborted transaction ever reaches the log, and
every reader is read_committed without any filtering. `flush` inside a transaction writes
nothing and returns {}: the offsets come back from `commit`. Creating the producer bumps the
transactional id's epoch in the database; a commit checks the epoch inside its write
transaction, so an older producer with the same id fails with ProducerFencedError.

Lifecycle of a transactional producer (one guard method, `_expect`):

    READY --begin--> IN_TXN --commit/abort--> READY
      any --commit finds a newer epoch--> FENCED (final)    any --close--> CLOSED (final)
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Sequence

from streamz_kit.errors import BrokerError, ProducerFencedError
from streamz_kit.transport.embedded.log import Log
from streamz_kit.transport.port import Producer, ProducerRecord, TopicPartition


class _State(enum.Enum):
    READY = "ready"
    IN_TXN = "in a transaction"
    FENCED = "fenced"
    CLOSED = "closed"


class EmbeddedProducer(Producer):
    group_commit = True

    def __init__(self, log: Log, transactional_id: str | None = None) -> None:
        self._log = log
        self.transactional = transactional_id is not None
        self.transactional_id = transactional_id
        self._queue: list[ProducerRecord] = []
        self._offsets: dict[str, dict[TopicPartition, int]] = {}
        self._state = _State.READY
        # Plain producers accept records whenever open; transactional ones only inside a
        # transaction. One boolean keeps `send` to a single check per record.
        self._accepting = not self.transactional
        self._epoch = log.bump_epoch(transactional_id) if transactional_id is not None else 0

    def send(self, record: ProducerRecord) -> None:
        if not self._accepting:
            self._refuse_send()
        self._queue.append(record)

    def _refuse_send(self) -> None:
        if self._state is _State.FENCED:
            raise self._fenced_error()
        if self._state is _State.CLOSED:
            raise BrokerError("send() was called on a closed producer; create a new one.")
        raise BrokerError(
            "send() was called on a transactional producer outside a transaction; "
            "call begin() first."
        )

    async def flush(self) -> dict[TopicPartition, int]:
        if self.transactional:
            self._expect(_State.READY, _State.IN_TXN, action="flush()")
            return {}
        self._expect(_State.READY, action="flush()")
        if not self._queue:
            return {}
        # On any error nothing of the batch is in the log and the batch is dropped: a bad
        # record (unknown topic) must not poison every later flush.
        queue, self._queue = self._queue, []
        result = await self._log.db.awrite(lambda c: self._log.append(c, queue, {}, None))
        await self._compact_due()
        return result

    async def begin(self) -> None:
        self._require_transactional("begin()")
        self._expect(_State.READY, action="begin()")
        self._state = _State.IN_TXN
        self._accepting = True

    async def send_offsets(self, group_id: str, offsets: dict[TopicPartition, int]) -> None:
        self._require_transactional("send_offsets()")
        self._expect(_State.IN_TXN, action="send_offsets()")
        self._offsets.setdefault(group_id, {}).update(offsets)

    async def commit(self) -> dict[TopicPartition, int]:
        self._require_transactional("commit()")
        self._expect(_State.IN_TXN, action="commit()")
        queue, offsets = self._queue, self._offsets
        fence = (str(self.transactional_id), self._epoch)
        try:
            result = await self._log.db.awrite(lambda c: self._log.append(c, queue, offsets, fence))
        except ProducerFencedError:
            self._drop()
            self._state = _State.FENCED
            raise
        self._drop()
        self._state = _State.READY
        await self._compact_due()
        return result

    @classmethod
    async def commit_group(
        cls, producers: Sequence[Producer]
    ) -> list[dict[TopicPartition, int] | BaseException]:
        """Commit every producer's transaction in ONE SQLite transaction on their shared
        log: one write lock, one WAL commit, one round of housekeeping per worker commit
        instead of one per task. Each producer's records and offsets still go in together
        or not at all: a fenced producer gets its ProducerFencedError and writes nothing,
        the others commit; any other error (a bad record) commits none of them and is
        every producer's result, their transactions left open as a failed `commit` leaves
        them."""
        mine = [p for p in producers if isinstance(p, EmbeddedProducer)]
        if len(mine) != len(producers) or len({id(p._log) for p in mine}) != 1:
            return await super().commit_group(producers)
        for producer in mine:
            producer._require_transactional("commit()")
            producer._expect(_State.IN_TXN, action="commit()")
        log = mine[0]._log

        def write(conn: sqlite3.Connection) -> list[dict[TopicPartition, int] | BaseException]:
            out: list[dict[TopicPartition, int] | BaseException] = []
            for p in mine:
                try:
                    log.check_epoch(conn, str(p.transactional_id), p._epoch)
                except ProducerFencedError as exc:
                    out.append(exc)
                    continue
                out.append(log.append(conn, p._queue, p._offsets, None))
            return out

        try:
            results = await log.db.awrite(write)
        except Exception as exc:  # noqa: BLE001 -- every producer's result, as one commit's
            return [exc] * len(mine)
        for producer, result in zip(mine, results):
            producer._drop()
            fenced = isinstance(result, ProducerFencedError)
            producer._state = _State.FENCED if fenced else _State.READY
        await mine[0]._compact_due()
        return results

    async def abort(self) -> None:
        self._require_transactional("abort()")
        self._drop()
        if self._state is _State.IN_TXN:
            self._state = _State.READY

    async def close(self) -> None:
        self._drop()
        self._queue = []
        self._state = _State.CLOSED
        self._accepting = False

    # -- helpers ---------------------------------------------------------------------------
    def _drop(self) -> None:
        self._queue = []
        self._offsets = {}
        self._accepting = not self.transactional and self._state is not _State.CLOSED

    async def _compact_due(self) -> None:
        """The broker's housekeeping, done by the writers: compaction, then retention."""
        for info, partition in self._log.due_for_compaction():
            await self._log.compact_async(info, partition)
        await self._log.cleaner.maybe_run()

    def _require_transactional(self, action: str) -> None:
        if not self.transactional:
            raise BrokerError(
                f"{action} was called on a producer that is not transactional; create it "
                "with a transactional_id (processing_guarantee='exactly_once')."
            )

    def _expect(self, *allowed: _State, action: str) -> None:
        if self._state in allowed:
            return
        if self._state is _State.FENCED:
            raise self._fenced_error()
        if self._state is _State.CLOSED:
            raise BrokerError(f"{action} was called on a closed producer; create a new one.")
        raise BrokerError(
            f"{action} is not allowed while the producer is {self._state.value}; "
            + (
                "call begin() first."
                if self._state is _State.READY
                else "commit() or abort() the open transaction first."
            )
        )

    def _fenced_error(self) -> ProducerFencedError:
        return ProducerFencedError(
            f"The producer with transactional id '{self.transactional_id}' was fenced by a "
            "newer one; close it and let the newer one carry on."
        )
