"""The worker loop's side of the async operators (processor/async_ops.py).

At each batch boundary the loop calls `drive`: finished calls are forwarded, queued ones
started, and while any async node has `max_in_flight` calls running the loop waits for one
to finish instead of fetching more. So what is buffered stays below `max_in_flight` plus
one poll's records per node, and the consumer is simply not polled while the limit holds.
"""

from __future__ import annotations

from collections.abc import Iterable

from streamz_kit.processor.async_ops import wait_for_a_call
from streamz_kit.runtime.task import Task

__all__ = ["IN_FLIGHT_POLL_MS", "async_tasks", "drive"]

# While calls are in flight the loop polls with this timeout (at most), so finished calls
# are forwarded promptly even when no new records arrive.
IN_FLIGHT_POLL_MS = 5


def async_tasks(tasks: Iterable[Task]) -> list[Task]:
    """The running tasks that have async operators."""
    return [task for task in tasks if task.async_nodes]


async def drive(tasks: list[Task]) -> bool:
    """Forward finished calls and start queued ones; wait while any node is at its limit.
    Returns whether calls are still in flight."""
    for task in tasks:
        task.step_async()
    while True:
        full = [node for task in tasks for node in task.async_nodes if node.saturated]
        if not full:
            break
        await wait_for_a_call(full)
        for task in tasks:
            task.step_async()
    return any(node.in_flight for task in tasks for node in task.async_nodes)
