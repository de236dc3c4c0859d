"""The five nodes of a foreign-key table-table join (KIP-213), after Kafka Streams'
foreignkeyjoin package:

left task   SubscriptionSendNode  left row change -> subscription(s) keyed by foreign key
right task  SubscriptionReceiveNode  keeps subscriptions in the subscription store
            SubscriptionJoinNode  answers a subscription with the right row's value
            ForeignTableJoinNode  right row change -> a response to every subscriber
left task   ResponseJoinNode  drops stale responses (hash check), applies the joiner

Between them run the subscription and response topics (see `dsl/fk_join.py`). The
subscription store's keys are [foreign key][primary key] bytes, so a right row finds its
subscribers with one prefix scan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from streamz_kit.processor.aggregate import StatefulNode
from streamz_kit.processor.context import TaskContext
from streamz_kit.processor.fk_wrappers import (
    Instruction,
    ResponseWrapper,
    SubscriptionWrapper,
    combined_key,
    combined_prefix,
    value_hash,
)
from streamz_kit.processor.node import Change, Headers, Node
from streamz_kit.processor.versioned import StaleChange
from streamz_kit.serdes import Serde

__all__ = [
    "ForeignTableJoinNode",
    "ResponseJoinNode",
    "SubscriptionJoinNode",
    "SubscriptionReceiveNode",
    "SubscriptionSendNode",
]

log = logging.getLogger("streamz_kit.processor")

NULL_FK = "null foreign key"
STALE = "stale foreign-key join response"
OUT_OF_ORDER = "out-of-order version of a versioned table"


class SubscriptionSendNode(StatefulNode):
    """Kafka's SubscriptionSendProcessorSupplier: turn each change of a left row into the
    subscriptions that keep the join right. It has no store (`store_name` is None)."""

    def __init__(
        self,
        name: str,
        *,
        foreign_key: Callable[[Any], Any],
        foreign_key_serde: Serde,
        value_serde: Serde,
        left_join: bool,
        serde_topic: str,
    ) -> None:
        super().__init__(name, "")
        self.foreign_key = foreign_key
        self.foreign_key_serde = foreign_key_serde
        self.value_serde = value_serde
        self.left_join = left_join
        self.serde_topic = serde_topic
        self.partition = 0

    def init(self, context: TaskContext) -> None:
        Node.init(self, context)  # no store of its own: skip StatefulNode.init
        self.partition = context.partition

    def _fk(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.foreign_key(value)
        except Exception as exc:
            raise self.fail(exc) from exc

    def _fk_bytes(self, fk: Any) -> bytes | None:
        return None if fk is None else self.foreign_key_serde.serialize(self.serde_topic, fk)

    def process(self, key: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if key is None:
            self.skip("null key", key)
            return
        if type(change) is StaleChange:  # KIP-914: an older version changes no join result
            self.skip(OUT_OF_ORDER, key)
            return
        new, old = change.new, change.old
        digest = None
        if new is not None:
            digest = value_hash(self.value_serde.serialize(self.serde_topic, new))
        if self.left_join:
            self._left(key, new, old, digest, timestamp, headers)
        else:
            self._inner(key, new, old, digest, timestamp, headers)

    def _send(
        self,
        fk: Any,
        key: Any,
        digest: bytes | None,
        instruction: Instruction,
        timestamp: int,
        headers: Headers,
    ) -> None:
        wrapper = SubscriptionWrapper(digest, instruction, key, self.partition)
        self.forward(fk, wrapper, timestamp, headers)

    def _left(
        self, key: Any, new: Any, old: Any, digest: bytes | None, ts: int, headers: Headers
    ) -> None:
        if new is None and old is None:
            return  # deleting a row that never existed: nothing to retract
        old_fk, new_fk = self._fk(old), self._fk(new)
        if old_fk is not None and self._fk_bytes(new_fk) != self._fk_bytes(old_fk):
            self._send(old_fk, key, digest, Instruction.DELETE_KEY_NO_PROPAGATE, ts, headers)
        # Always ask for an answer, even with no foreign key (the subscription is then keyed
        # by None and stored nowhere): the left join must emit joiner(value, None) or delete.
        self._send(
            new_fk, key, digest, Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, ts, headers
        )

    def _inner(
        self, key: Any, new: Any, old: Any, digest: bytes | None, ts: int, headers: Headers
    ) -> None:
        old_fk = self._fk(old)
        if new is None:
            if old_fk is not None:
                self._send(old_fk, key, digest, Instruction.DELETE_KEY_AND_PROPAGATE, ts, headers)
            return
        new_fk = self._fk(new)
        if new_fk is None:
            self.skip(NULL_FK, key)
            if old_fk is not None:  # the row may have joined before: retract the result
                self._send(old_fk, key, digest, Instruction.DELETE_KEY_AND_PROPAGATE, ts, headers)
            return
        if old_fk is None:
            self._send(
                new_fk, key, digest, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, ts, headers
            )
        elif self._fk_bytes(new_fk) != self._fk_bytes(old_fk):
            self._send(old_fk, key, digest, Instruction.DELETE_KEY_NO_PROPAGATE, ts, headers)
            self._send(
                new_fk,
                key,
                digest,
                Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE,
                ts,
                headers,
            )
        else:
            self._send(
                new_fk, key, digest, Instruction.PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, ts, headers
            )


class _SubscriptionStoreNode(StatefulNode):
    """A node over the subscription store (keys [foreign key][primary key]). What it forwards
    is never cached: each subscription needs its answer."""

    def __init__(
        self,
        name: str,
        store_name: str,
        foreign_key_serde: Serde,
        primary_key_serde: Serde,
        serde_topic: str,
    ) -> None:
        super().__init__(name, store_name)
        self.foreign_key_serde = foreign_key_serde
        self.primary_key_serde = primary_key_serde
        self.serde_topic = serde_topic

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward


class SubscriptionReceiveNode(_SubscriptionStoreNode):
    """Kafka's SubscriptionReceiveProcessorSupplier: record (or remove) the subscription
    under [foreign key][primary key], then pass it on to be answered."""

    def process(
        self, fk: Any, wrapper: SubscriptionWrapper, timestamp: int, headers: Headers
    ) -> None:
        if wrapper is None:
            self.skip("null subscription", fk)
            return
        if fk is None:
            if wrapper.instruction != Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
                self.skip(NULL_FK, fk)
                return
        else:
            topic = self.serde_topic
            store_key = combined_key(
                self.foreign_key_serde.serialize(topic, fk) or b"",
                self.primary_key_serde.serialize(topic, wrapper.primary_key) or b"",
            )
            if wrapper.instruction in (
                Instruction.DELETE_KEY_AND_PROPAGATE,
                Instruction.DELETE_KEY_NO_PROPAGATE,
            ):
                self.store.delete(store_key)
            else:
                self.store.put(store_key, wrapper, timestamp)
        self.forward(fk, wrapper, timestamp, headers)


class SubscriptionJoinNode(StatefulNode):
    """Kafka's SubscriptionJoinProcessorSupplier: answer a subscription with the right row's
    current value, as its instruction says. Reads the right table's store."""

    def process(
        self, fk: Any, wrapper: SubscriptionWrapper, timestamp: int, headers: Headers
    ) -> None:
        found = None if fk is None else self.store.get_with_timestamp(fk)
        ts = timestamp if found is None or found[1] <= timestamp else found[1]
        instruction = wrapper.instruction
        if instruction == Instruction.DELETE_KEY_NO_PROPAGATE:
            return
        if instruction == Instruction.DELETE_KEY_AND_PROPAGATE:
            value = None
        elif instruction == Instruction.PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
            value = None if found is None else found[0]
        else:  # PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE
            if found is None:
                return
            value = found[0]
        response = ResponseWrapper(wrapper.hash, value, wrapper.primary_partition)
        self.forward(wrapper.primary_key, response, ts, headers)


class ForeignTableJoinNode(_SubscriptionStoreNode):
    """Kafka's ForeignTableJoinProcessorSupplier: a right row changed; answer every left row
    subscribed to it (a prefix scan of the subscription store)."""

    def process(self, fk: Any, change: Change, timestamp: int, headers: Headers) -> None:
        if fk is None:
            self.skip("null key", fk)
            return
        if type(change) is StaleChange:
            self.skip(OUT_OF_ORDER, fk)
            return
        topic = self.serde_topic
        prefix = combined_prefix(self.foreign_key_serde.serialize(topic, fk) or b"")
        start = len(prefix)
        pk_loads = self.primary_key_serde.deserialize
        new = change.new
        answers = []
        for store_key, wrapper in self.store.range(prefix, None):
            if not store_key.startswith(prefix):
                break
            answers.append((pk_loads(topic, store_key[start:]), wrapper))
        for pk, wrapper in answers:
            response = ResponseWrapper(wrapper.hash, new, wrapper.primary_partition)
            self.forward(pk, response, timestamp, headers)


class ResponseJoinNode(StatefulNode):
    """Kafka's ResponseJoinProcessorSupplier: keep a response only if it was made from the
    left row's current value (same hash), then join; reads the left table's store."""

    def __init__(
        self,
        name: str,
        store_name: str,
        *,
        value_serde: Serde,
        joiner: Callable[[Any, Any], Any],
        left_join: bool,
        serde_topic: str,
    ) -> None:
        super().__init__(name, store_name)
        self.value_serde = value_serde
        self.joiner = joiner
        self.left_join = left_join
        self.serde_topic = serde_topic

    def init(self, context: TaskContext) -> None:
        super().init(context)
        self.emit = self.forward

    def process(
        self, key: Any, response: ResponseWrapper, timestamp: int, headers: Headers
    ) -> None:
        if response is None:
            self.skip("null response", key)
            return
        current = self.store.get(key)
        current_hash = None
        if current is not None:
            current_hash = value_hash(self.value_serde.serialize(self.serde_topic, current))
        if current_hash != response.hash:
            self.skip(STALE, key)
            return
        right = response.foreign_value
        if current is None or (right is None and not self.left_join):
            result = None
        else:
            try:
                result = self.joiner(current, right)
            except Exception as exc:
                raise self.fail(exc) from exc
        self.forward(key, result, timestamp, headers)
