"""Stores whose changelog is their table's source topic (topology/optimize.py's reuse pass).

Such a store is restored from the source topic, but only up to the group's committed offset:
later records will be processed by the task, and restoring them too would put the store
ahead of the input (a table aggregation downstream would then subtract the wrong old value).
"""

from __future__ import annotations

from streamz_kit.state.manager import ChangelogTarget
from streamz_kit.transport.port import Consumer

__all__ = ["bound_source_restores"]


async def bound_source_restores(consumer: Consumer, targets: list[ChangelogTarget]) -> None:
    """Set each source-restored target's end to the committed offset. Without a committed
    offset nothing is restored, and a store that holds state anyway (the group was reset
    while the state directory survived) is wiped."""
    sourced = [t for t in targets if t.from_source]
    if not sourced:
        return
    committed = await consumer.committed([t.partition for t in sourced])
    for target in sourced:
        end = committed.get(target.partition)
        if end is None or end < 0:
            end = 0
            if target.next_offset() is not None:
                target.wipe()
        target.end = end
