"""`App`: runs a topology as a worker on the embedded broker or on Kafka."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

from streamz_kit.app_state import APP_TRANSITIONS, AppState
from streamz_kit.config import AppConfig
from streamz_kit.errors import InvalidStateStoreError, StreamzError, TopologyError
from streamz_kit.lifecycle import Lifecycle
from streamz_kit.observability import Observability
from streamz_kit.runtime.worker import Worker
from streamz_kit.state.views import read_only_view
from streamz_kit.topology.topology import Topology

log = logging.getLogger("streamz_kit.app")


__all__ = ["App", "AppState"]


class App:
    """A worker for one topology. `run()` blocks until SIGINT/SIGTERM; in asyncio code use
    `await start()` and `await stop()`."""

    def __init__(
        self,
        topology: Topology,
        *,
        application_id: str,
        broker: str = "embedded://.streamz",
        processing_guarantee: str = "at_least_once",
        state_dir: str | Path | None = None,
        commit_interval_ms: int | None = None,
        num_standby_replicas: int = 0,
        metrics_port: int | None = None,
        http_port: int | None = None,
        http_host: str = "127.0.0.1",
        **settings: Any,
    ) -> None:
        """`settings`: any other AppConfig setting (poll_timeout_ms, max_poll_records,
        commit_max_records, cache_max_bytes, error handlers, ...), Kafka client settings
        by aiokafka's keyword names (SASL, TLS), or `client_config={...}`; an unknown name
        is a ConfigError naming the closest valid one (see streamz_kit/config.py).

        `commit_interval_ms` (default 30 s at_least_once, 100 ms exactly_once, as in Kafka
        Streams) is the most time between two commits. Under exactly_once outputs become
        visible at the commit, so on the embedded log the worker also commits as soon as it
        has caught up with its input (at most every 10 ms): each repartition hop then waits
        for one commit instead of up to an interval, and a busy worker commits by the
        interval."""
        if not isinstance(topology, Topology):
            raise TopologyError(
                "App takes a Topology; build one with StreamsBuilder() ... builder.build()."
            )
        self.topology = topology
        self.config = AppConfig.from_settings(
            application_id=application_id,
            broker=broker,
            processing_guarantee=processing_guarantee,
            state_dir=state_dir,
            commit_interval_ms=commit_interval_ms,
            num_standby_replicas=num_standby_replicas,
            **settings,
        )
        # Ports for Prometheus metrics and interactive queries (None: not served; 0: any).
        self.metrics_port = metrics_port
        self.http_port = http_port
        self.http_host = http_host
        self.observability: Observability | None = None
        self._lifecycle = Lifecycle("App", AppState.CREATED, APP_TRANSITIONS)
        self._worker: Worker | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    @property
    def application_id(self) -> str:
        return self.config.application_id

    @property
    def state(self) -> AppState:
        return self._lifecycle.state

    def configure(self, **overrides: Any) -> App:
        """Replace settings before start (the CLI's --broker, --state-dir, ... use this)."""
        if self.state is not AppState.CREATED:
            raise StreamzError("configure() must be called before the app starts.")
        for name in ("metrics_port", "http_port", "http_host"):
            value = overrides.pop(name, None)
            if value is not None:
                setattr(self, name, value)
        # The CLI passes every option, None when not given: None means "not overridden".
        # A new broker without a state directory moves the state with it; a new guarantee
        # without a commit interval takes that guarantee's default.
        given = {k: v for k, v in overrides.items() if v is not None}
        if "broker" in given and "state_dir" not in given:
            given["state_dir"] = None
        if "processing_guarantee" in given and "commit_interval_ms" not in given:
            given["commit_interval_ms"] = None
        self.config = self.config.replace(**given)
        return self

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, create internal topics, join the group and start processing."""
        if self.state is not AppState.CREATED:
            raise StreamzError(f"This App was already started (state {self.state.value}).")
        if self.config.workers > 1:
            raise StreamzError(
                f"workers={self.config.workers} runs worker processes under run() or "
                "`streamz-kit run`; in asyncio code start() runs one worker in this process "
                "(leave workers at 1)."
            )
        self._lifecycle.to(AppState.STARTING)
        worker = Worker(self.topology, self.config)
        if self.config.tracing is not None:  # streamz_kit[otel]
            from streamz_kit.observability.tracing import Tracing

            worker.tracing = Tracing.build(self.config.tracing, self.config.application_id)
        self._worker = worker
        try:
            await worker.start()
        except BaseException as exc:
            self._lifecycle.to(AppState.ERROR)
            self.error = exc
            await worker.close(commit=False)
            raise
        observability = Observability(
            self,
            metrics_port=self.metrics_port,
            http_port=self.http_port,
            http_host=self.http_host,
        )
        observability.attach(worker)
        try:
            await observability.start()
        except BaseException as exc:
            self._lifecycle.to(AppState.ERROR)
            self.error = exc
            await observability.stop()
            await worker.close(commit=False)
            raise
        self.observability = observability
        self._lifecycle.to(AppState.RUNNING)
        self._loop_task = asyncio.get_running_loop().create_task(self._run_loop(worker))
        log.info(
            "App %s running on %s (%s)",
            self.config.application_id,
            self.config.broker,
            self.config.processing_guarantee,
        )

    async def _run_loop(self, worker: Worker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._lifecycle.to(AppState.ERROR)
            self.error = exc
            log.error("App %s stopped on an error: %s", self.config.application_id, exc)
            try:
                await worker.close(commit=False)
            finally:
                raise

    async def stop(self) -> None:
        """Commit what was processed, close the tasks and stores, leave the group."""
        worker = self._worker
        if worker is None or self.state in (AppState.STOPPED, AppState.CREATED):
            if self.state is AppState.CREATED:
                self._lifecycle.to(AppState.STOPPED)
            return
        failed = self.state is AppState.ERROR
        self._lifecycle.to(AppState.STOPPING)
        worker.request_stop()
        if self._loop_task is not None:
            try:
                await self._loop_task
            except BaseException:
                failed = True
        try:
            if self.observability is not None:
                await self.observability.stop()
            await worker.close(commit=not failed)
        finally:
            self._lifecycle.to(AppState.ERROR if failed else AppState.STOPPED)

    async def wait(self) -> None:
        """Wait until the processing loop ends (on stop() or an error, which is raised)."""
        if self._loop_task is not None:
            await self._loop_task

    def run(self) -> None:
        """Run until SIGINT or SIGTERM, then commit and close cleanly; with `workers=N`
        (N > 1), run N supervised worker processes instead (streamz_kit/runtime/supervisor.py)."""
        if self.config.workers > 1:
            self._supervise()
            return
        asyncio.run(self._run_until_signal())

    def _supervise(self) -> None:
        from streamz_kit.runtime.supervisor import Supervisor

        n = self.config.workers
        if self.state is not AppState.CREATED:
            raise StreamzError(f"This App was already started (state {self.state.value}).")
        if Supervisor(self._run_worker, n).run() != 0:
            raise StreamzError(
                f"The {n} workers of {self.config.application_id} stopped after a failure; "
                "the supervisor's sentence and the worker's error are in the output above."
            )

    def _run_worker(self, index: int) -> int:
        """Worker `index` of a supervised run (in its own forked process)."""
        from streamz_kit.runtime.supervisor import worker_state_dir

        client = dict(self.config.client_config)
        if client.get("group_instance_id"):
            client["group_instance_id"] = f"{client['group_instance_id']}-{index}"
        if self.config.broker.startswith("embedded://"):
            # Share the group through leases in the log instead of one worker's lock.
            client["group_member"] = f"worker-{index}"
            client["group_members_expected"] = self.config.workers
        self.config = self.config.replace(
            workers=None,
            state_dir=worker_state_dir(self.config.state_dir, index),
            client_config=client,
        )
        # Fixed ports: worker i serves on port + i (0 stays "any free port").
        if self.http_port:
            self.http_port += index
        if self.metrics_port:
            self.metrics_port += index
        asyncio.run(self._run_until_signal())
        return 0

    async def _run_until_signal(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                # No signal handlers off the main thread (or on Windows): run() then stops
                # on KeyboardInterrupt or stop() instead.
                pass
        await self.start()
        assert self._loop_task is not None
        waiter = loop.create_task(stop.wait())
        done, _ = await asyncio.wait({self._loop_task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._loop_task in done and self._loop_task.exception() is not None:
            await self.stop()
            raise self._loop_task.exception()  # type: ignore[misc]
        log.info("Stopping App %s: committing and closing", self.config.application_id)
        await self.stop()

    # -- interactive queries ------------------------------------------------------------------
    def store(self, name: str) -> Any:
        """A read-only view of a store over every task this worker runs."""
        if name not in self.topology.store_names:
            raise StreamzError(
                f"No state store named {name!r}; this topology has {self.topology.store_names}."
            )
        worker = self._worker
        if worker is None or worker.tasks is None or self.state is not AppState.RUNNING:
            raise InvalidStateStoreError(
                f"Store {name!r} is not queryable while the app is {self.state.value}; "
                "query it once the app is RUNNING."
            )
        if name in worker.global_stores:
            return read_only_view(worker.global_stores[name])
        if worker.tasks.restoring:
            raise InvalidStateStoreError(
                f"Store {name!r} is restoring (tasks {sorted(worker.tasks.restoring)}); "
                "try again when restoration finishes."
            )
        from streamz_kit.runtime.composite import CompositeView

        stores = [
            task.stores[name] for task in worker.tasks.running().values() if name in task.stores
        ]
        return CompositeView(name, stores)

    def metrics(self) -> dict[str, Any]:
        """This worker's metrics as a plain dict (the same numbers /metrics exposes): state,
        records_processed, records_per_second, commits, last_commit_ms, restored_records,
        tasks, task_details, lag, total_lag, restoration, latencies, skipped records."""
        if self.observability is None:
            return {"state": self.state.value}
        return self.observability.snapshot()
