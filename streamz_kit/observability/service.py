"""The App's observability: metrics, interactive-query HTTP, lag refresh, status file.

One object per App, started after the worker and stopped before it. It owns the only
extra asyncio work a worker runs besides its loop: the servers and a tick every second
that refreshes lag (every few seconds) and rewrites the status file.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from typing import Any

import orjson

from streamz_kit.app_state import AppState
from streamz_kit.observability import prometheus, queries, routing
from streamz_kit.observability.histogram import BatchObserver
from streamz_kit.observability.http import HttpServer
from streamz_kit.observability.lag import LagTracker
from streamz_kit.observability.log_size import LogSizeTracker
from streamz_kit.observability.snapshot import RateMeter, build_snapshot
from streamz_kit.observability.status_file import remove_status, status_path, write_status

log = logging.getLogger("streamz_kit.observability")

JSON = "application/json"


class Observability:
    def __init__(
        self,
        app: Any,
        *,
        metrics_port: int | None = None,
        http_port: int | None = None,
        http_host: str = "127.0.0.1",
        tick_seconds: float = 1.0,
        lag_seconds: float = 3.0,
    ) -> None:
        self.app = app
        self.observer = BatchObserver()
        self.lag = LagTracker()
        self.log_size = LogSizeTracker()
        self.rates = RateMeter()
        self.registry = prometheus.make_registry(self.snapshot, self.observer)
        self.http_host = http_host
        self._wanted = (metrics_port, http_port)
        self.http: HttpServer | None = None
        self.metrics_server: HttpServer | None = None
        self.tick_seconds = tick_seconds
        self.lag_seconds = lag_seconds
        self._tick: asyncio.Task[None] | None = None
        self._status_file: Path | None = None

    # -- reading -------------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str | None]:
        """URLs others can use: a wildcard bind address is advertised as the host name."""
        host = self.http_host
        if host in ("", "0.0.0.0", "::"):
            host = socket.gethostname()
        return {
            "http": f"http://{host}:{self.http.port}" if self.http else None,
            "metrics": (
                f"http://{host}:{self.metrics_server.port}/metrics" if self.metrics_server else None
            ),
        }

    def snapshot(self) -> dict[str, Any]:
        snap = build_snapshot(self.app, self.observer, self.lag, self.rates, self.endpoints)
        log_facts = self.log_size.facts()
        if log_facts is not None and "records_processed" in snap:
            snap["log"] = log_facts
        return snap

    def prometheus_text(self) -> bytes:
        return prometheus.render(self.registry)

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        metrics_port, http_port = self._wanted
        if http_port is not None:
            self.http = HttpServer(self._handle, self.http_host, http_port)
            await self.http.start()
            log.info(
                "Serving queries on http://%s:%d (stores, topology, status, metrics)",
                self.http_host,
                self.http.port,
            )
        if metrics_port is not None and (
            self.http is None or metrics_port != http_port or metrics_port == 0
        ):
            self.metrics_server = HttpServer(self._handle_metrics, self.http_host, metrics_port)
            await self.metrics_server.start()
            log.info(
                "Serving Prometheus metrics on http://%s:%d/metrics",
                self.http_host,
                self.metrics_server.port,
            )
        elif metrics_port is not None:
            self.metrics_server = self.http
        assignor = getattr(getattr(self.app, "_worker", None), "assignor", None)
        if assignor is not None and self.http is not None:
            assignor.endpoint = self.endpoints["http"]  # advertised when the group is joined
        self._status_file = status_path(self.app.config.app_state_dir)
        self._tick = asyncio.get_running_loop().create_task(self._run_tick())

    async def stop(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            try:
                await self._tick
            except BaseException:  # cancelled, or it had failed: either way it is done
                pass
            self._tick = None
        for server in {id(s): s for s in (self.http, self.metrics_server) if s}.values():
            await server.close()
        await self.lag.close()
        await self.log_size.close()
        if self._status_file is not None:
            remove_status(self._status_file)

    async def _run_tick(self) -> None:
        last_lag = 0.0
        while True:
            now = time.monotonic()
            try:
                worker = self.app._worker
                # The status file first: a lag probe that waits on a slow broker must not
                # leave `streamz-kit status` showing a snapshot from before the tasks ran.
                if self._status_file is not None:
                    write_status(self._status_file, self.snapshot())
                if worker is not None and (
                    now - last_lag >= self.lag_seconds or self.lag.stale_for(worker)
                ):
                    last_lag = now
                    await self.lag.refresh(worker)
                    await self.log_size.refresh(worker)
                    if self._status_file is not None:
                        write_status(self._status_file, self.snapshot())
            except Exception as exc:  # status is best effort; processing must go on
                log.debug("Status refresh failed: %s", exc)
            await asyncio.sleep(self.tick_seconds)

    # -- HTTP ----------------------------------------------------------------------------
    async def _handle_metrics(
        self, method: str, parts: list[str], params: dict[str, str]
    ) -> tuple[int, str, bytes]:
        if parts == ["metrics"] or not parts:
            return 200, prometheus.CONTENT_TYPE, self.prometheus_text()
        return 404, JSON, b'{"error":"only /metrics is served on this port"}'

    async def _handle(
        self, method: str, parts: list[str], params: dict[str, str]
    ) -> tuple[int, str, bytes]:
        if parts == ["metrics"]:
            return 200, prometheus.CONTENT_TYPE, self.prometheus_text()
        if parts == ["status"]:
            return 200, JSON, queries.dumps(self.snapshot())
        if parts == ["topology"]:
            topology = self.app.topology
            body = {"description": topology.describe(), "mermaid": topology.to_mermaid()}
            return 200, JSON, orjson.dumps(body)
        if parts == ["health"] or not parts:
            state = self.app.state
            ready = state is AppState.RUNNING and not self._restoring()
            body = {"state": state.value, "ready": ready}
            return (200 if ready else 503), JSON, orjson.dumps(body)
        if parts and parts[0] == "stores":
            if len(parts) == 1:
                return 200, JSON, orjson.dumps({"stores": self.app.topology.store_names})
            if len(parts) == 3 and not params.get("local"):
                forwarded = await self._forward_key(parts[1], parts[2])
                if forwarded is not None:
                    return forwarded
            status, body = queries.answer_store(self.app, parts[1:], params)
            return status, JSON, queries.dumps(body)
        return (
            404,
            JSON,
            orjson.dumps(
                {
                    "error": "no such route",
                    "message": "Routes: /stores/<store>[/<key>[/windows]], /topology, /status, "
                    "/metrics, /health.",
                }
            ),
        )

    async def _forward_key(self, store: str, key_text: str) -> tuple[int, str, bytes] | None:
        """Ask the worker hosting this key, when it is another one (Kafka only)."""
        if store not in self.app.topology.store_names:
            return None
        try:
            key = queries.parse_key(key_text, self.app.topology.store_builder(store).key_serde)
            host = routing.host_for_key(self.app, store, key)
        except Exception:  # a key we cannot place is answered (or refused) locally
            return None
        if host is None:
            return None
        status, body = await routing.fetch_remote(host, routing.forward_path(store, key_text))
        return status, JSON, body

    def _restoring(self) -> bool:
        worker = self.app._worker
        tasks = getattr(worker, "tasks", None)
        return bool(tasks is not None and tasks.restoring)

    # -- the worker's batch hook ---------------------------------------------------------
    def attach(self, worker: Any) -> None:
        """Have the worker report each batch (processing time, end-to-end latency)."""
        worker.batch_observer = self.observer.observe
