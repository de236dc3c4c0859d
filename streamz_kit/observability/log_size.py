"""How much disk the embedded log takes, and how much of it each topic retains.

Refreshed by the App's observability tick (with lag, every few seconds), never on the
processing path. Only brokers that are a local file answer (`Admin.log_file_bytes`); on
Kafka the figures stay empty and the metrics are not exported.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

log = logging.getLogger("streamz_kit.observability")


class LogSizeTracker:
    def __init__(self) -> None:
        self.file_bytes: int | None = None
        self.retained: dict[str, int] = {}  # topic -> bytes its partitions hold
        self._admin: Any = None
        self._warned = False

    async def refresh(self, worker: Any) -> None:
        transport = getattr(worker, "transport", None)
        if transport is None:
            return
        if self._admin is None:
            self._admin = transport.admin()
        try:
            file_bytes = await self._admin.log_file_bytes()
            if file_bytes is None:
                return
            states = await self._admin.describe_partitions(await self._admin.list_topics())
        except Exception as exc:  # noqa: BLE001 - a lost broker must not stop the worker
            if not self._warned:
                log.warning("Could not read the log's size for metrics: %s", exc)
                self._warned = True
            return
        self._warned = False
        retained: dict[str, int] = {}
        for state in states:
            retained[state.topic] = retained.get(state.topic, 0) + (state.bytes or 0)
        self.file_bytes, self.retained = file_bytes, retained

    def facts(self) -> dict[str, Any] | None:
        if self.file_bytes is None:
            return None
        return {
            "file_bytes": self.file_bytes,
            "retained_bytes": sum(self.retained.values()),
            "retained_bytes_by_topic": dict(sorted(self.retained.items())),
        }

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):  # the transport may already be closed
                await admin.close()
