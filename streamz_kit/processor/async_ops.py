"""Async operators (`map_values_async`, `flat_map_values_async`, `foreach_async`): call an
`async def` per record — an HTTP service, a model server — without giving up per-key order,
bounded memory or the commit's guarantees.

Per record the node stays synchronous: `process` only queues the record behind earlier
records of the same key. The worker loop (the only owner of asyncio work) drives the node at
batch boundaries through its task: `start_calls` starts queued calls as asyncio tasks while
fewer than `max_in_flight` run, `completed` hands back finished calls so the task forwards
their results downstream synchronously, in its own context and with the record's own
coordinates. A key has at most one call running, so records of one key are called and
complete in input order, while different keys overlap up to `max_in_flight`.

The commit awaits every call of the task first (`Task.settle_async`): a commit then covers
only records whose downstream work is complete, under at_least_once and exactly_once alike.
So that this wait stays short however far the service falls behind, a node accepts at most
`max_queued` records (QUEUE_PER_CALL x `max_in_flight`: running calls plus the ones waiting
behind them): the worker loop fetches no more than the room left and stops fetching while a
node is full. A commit then waits for at most `max_queued` calls — about QUEUE_PER_CALL call
latencies when the queued records have different keys, `max_queued` latencies in the worst
case of one key (its calls run one after the other).
`close` cancels what is still running: a closed (revoked, migrated) task never forwards.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from streamz_kit.observability.histogram import Histogram
from streamz_kit.processor.node import Node
from streamz_kit.processor.types import Headers

__all__ = [
    "CALL_LATENCY_BUCKETS",
    "QUEUE_PER_CALL",
    "AsyncCall",
    "AsyncValuesNode",
    "wait_for_a_call",
]

# A node holds at most this many records per allowed call (running or waiting to run). The
# loop polls once a node has room for `max_in_flight` more, when about `max_in_flight` still
# wait behind the running calls: every call slot stays busy while the loop polls, each poll
# brings at least `max_in_flight` records, and a commit's wait (Task.settle_async) stays
# about three call latencies.
QUEUE_PER_CALL = 3

CALL_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class AsyncCall:
    """One record waiting for, or in, its call."""

    __slots__ = ("headers", "key", "record", "slot", "task", "timestamp", "value")

    def __init__(
        self, key: Any, value: Any, timestamp: int, headers: Headers, record: Any, slot: Any
    ) -> None:
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.headers = headers
        self.record = record  # the consumed record: its coordinates for errors and context
        self.slot = slot  # the key as a dict key (repr of an unhashable key)
        self.task: asyncio.Task[Any] | None = None


def _slot(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        return ("unhashable", repr(key))
    return key


class AsyncValuesNode(Node):
    """The runtime node of the three async operators (`mode`: map, flat_map, foreach)."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., Awaitable[Any]],
        mode: str,
        *,
        with_key: bool,
        max_in_flight: int,
        timeout: float | None,
        retries: int,
        backoff: float,
    ) -> None:
        super().__init__(name)
        self.fn = fn
        self.mode = mode
        self.with_key = with_key
        self.max_in_flight = max_in_flight
        self.max_queued = QUEUE_PER_CALL * max_in_flight
        self.refill = max_in_flight  # the least room worth a poll
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.queues: dict[Any, deque[AsyncCall]] = {}  # per key, head = the running call
        self.waiting: deque[Any] = deque()  # keys whose head call has not started
        self.in_flight: set[asyncio.Task[Any]] = set()
        self._done: list[AsyncCall] = []
        # Set by whoever waits for a call to finish (the worker loop): one callback per
        # finished call instead of asyncio.wait's callbacks on every running call.
        self.on_done: Callable[[], None] | None = None
        self.queued = 0  # records accepted and not yet forwarded
        # metrics
        self.calls = 0
        self.timeouts = 0
        self.retried = 0
        self.failures = 0
        self.latency = Histogram(CALL_LATENCY_BUCKETS)

    # -- per record (synchronous) ---------------------------------------------------------
    def process(self, key: Any, value: Any, timestamp: int, headers: Headers) -> None:
        slot = _slot(key)
        call = AsyncCall(key, value, timestamp, headers, self.context.current.record, slot)
        queue = self.queues.get(slot)
        if queue is None:
            self.queues[slot] = deque((call,))
            self.waiting.append(slot)
        else:
            queue.append(call)
        self.queued += 1

    # -- driven by the worker loop through the task --------------------------------------
    @property
    def saturated(self) -> bool:
        """No room for another call: queued records wait for a running one to complete."""
        return len(self.in_flight) >= self.max_in_flight

    @property
    def room(self) -> int:
        """How many more records the node takes before it is full."""
        return max(self.max_queued - self.queued, 0)

    @property
    def full(self) -> bool:
        """Too full to fetch for: the worker stops fetching until calls complete (which
        bounds what a commit waits for) and the node has room for `max_in_flight` records
        again, so a poll is worth its cost; a full node still holds more than twice
        `max_in_flight` records, enough to keep every call slot busy meanwhile."""
        return self.room < self.refill

    def start_calls(self) -> None:
        """Start the queued head calls while fewer than `max_in_flight` run (needs the
        running event loop: called by the worker loop and the test driver only)."""
        if not self.waiting or len(self.in_flight) >= self.max_in_flight:
            return
        loop = asyncio.get_running_loop()
        while self.waiting and len(self.in_flight) < self.max_in_flight:
            call = self.queues[self.waiting.popleft()][0]
            task = loop.create_task(self._run(call))
            call.task = task
            self.in_flight.add(task)
            task.add_done_callback(functools.partial(self._finished, call))

    def _finished(self, call: AsyncCall, task: asyncio.Task[Any]) -> None:
        self.in_flight.discard(task)
        if not task.cancelled():
            self._done.append(call)
        if self.on_done is not None:
            self.on_done()

    def completed(self) -> Iterator[AsyncCall]:
        """Finished calls in completion order; the next call of each key is queued to start.
        The caller forwards each (`emit_result`) or hands its error to the error handler."""
        while self._done:
            done, self._done = self._done, []
            for call in done:
                queue = self.queues[call.slot]
                queue.popleft()  # the call is its key's head: one running call per key
                if queue:
                    self.waiting.append(call.slot)
                else:
                    del self.queues[call.slot]
                self.queued -= 1
                yield call

    def emit_result(self, call: AsyncCall, result: Any) -> None:
        """Forward a finished call's result (synchronously, in the task's context)."""
        if self.mode == "map":
            self.forward(call.key, result, call.timestamp, call.headers)
        elif self.mode == "flat_map":
            if result is None:
                return
            for value in result:
                self.forward(call.key, value, call.timestamp, call.headers)
        # foreach: the call was the point; nothing goes on

    async def _run(self, call: AsyncCall) -> Any:
        """One call with its timeout and retries (exponential backoff)."""
        attempt = 0
        fn = self.fn
        while True:
            started = time.perf_counter()
            self.calls += 1
            try:
                awaitable = fn(call.key, call.value) if self.with_key else fn(call.value)
                if self.timeout is None:
                    result = await awaitable
                else:
                    result = await asyncio.wait_for(awaitable, self.timeout)
            except TimeoutError:
                self.timeouts += 1
                error: Exception = TimeoutError(
                    f"the call took longer than its timeout of {self.timeout} s"
                    + (f" (attempt {attempt + 1} of {self.retries + 1})" if self.retries else "")
                )
            except Exception as exc:
                error = exc
            else:
                self.latency.observe(time.perf_counter() - started)
                return result
            if attempt >= self.retries:
                self.failures += 1
                raise error
            await asyncio.sleep(self.backoff * (2**attempt))
            attempt += 1
            self.retried += 1

    def result_of(self, call: AsyncCall) -> tuple[Any, BaseException | None]:
        task = call.task
        assert task is not None and task.done()
        error = task.exception()
        return (None, error) if error is not None else (task.result(), None)

    def metrics(self) -> dict[str, Any]:
        return {
            "in_flight": len(self.in_flight),
            "queued": self.queued,
            "max_queued": self.max_queued,
            "calls": self.calls,
            "timeouts": self.timeouts,
            "retries": self.retried,
            "failures": self.failures,
            "latency_seconds": self.latency.summary(),
            "latency_buckets": self.latency.cumulative(),
            "latency_sum": self.latency.sum,
        }

    def close(self) -> None:
        """Cancel what still runs and drop what waits: a closed task forwards nothing more
        (its uncommitted records are reprocessed from the committed offsets)."""
        for task in list(self.in_flight):
            task.cancel()
        self.in_flight.clear()
        self.queues.clear()
        self.waiting.clear()
        self._done.clear()
        self.queued = 0


async def wait_for_a_call(nodes: Iterable[AsyncValuesNode]) -> None:
    """Return once any call of these nodes has finished (they must have calls running)."""
    finished = asyncio.Event()
    nodes = list(nodes)
    for node in nodes:
        node.on_done = finished.set
    try:
        await finished.wait()
    finally:
        for node in nodes:
            node.on_done = None
