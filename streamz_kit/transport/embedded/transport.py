"""The embedded transport: a factory of admin, consumers and producers over one local log."""

from __future__ import annotations

import os
from typing import Any

from streamz_kit.transport.embedded.admin import EmbeddedAdmin
from streamz_kit.transport.embedded.consumer import EmbeddedConsumer
from streamz_kit.transport.embedded.leases import DEFAULT_SESSION_MS, GroupLeases
from streamz_kit.transport.embedded.log import Log
from streamz_kit.transport.embedded.producer import EmbeddedProducer
from streamz_kit.transport.port import Transport


class EmbeddedTransport(Transport):
    """A durable, partitioned log in PATH/log.db; see the package docstring.

    Kafka client settings (`client_config`) are accepted and ignored, so an App configured
    for Kafka can be pointed at the embedded broker without editing its settings; one is
    used: `auto_offset_reset` ('earliest', the default, 'latest' or 'none'), for consumers
    without a committed offset or whose position retention deleted. `group_member` (set by
    `run --workers N`) makes group consumers share the group through leases in the log
    (leases.py; `session_timeout_ms` is the lease timeout) instead of one holding its lock;
    `group_members_expected` (N) makes the first members wait for the others at start.
    """

    exact_end_offsets = True  # end offsets are read inside SQLite: exact, never short
    local_commits = True  # a transaction commit is one SQLite write

    def __init__(self, path: str, **client_config: Any) -> None:
        self.path = os.path.abspath(path)
        self.url = f"embedded://{self.path}"
        self.client_config = client_config
        self._log = Log(self.path)
        self._consumers: list[EmbeddedConsumer] = []

    @property
    def log(self) -> Log:
        """The shared log, for tools and tests that need more than the port (compaction)."""
        return self._log

    async def start(self) -> None:
        """Opens (creating if needed) the log; BrokerError when PATH cannot be used."""
        self._log.db.open()

    def admin(self) -> EmbeddedAdmin:
        return EmbeddedAdmin(self._log)

    def consumer(
        self, *, group_id: str | None, client_id: str = "streamz-kit", read_committed: bool = True
    ) -> EmbeddedConsumer:
        reset = str(self.client_config.get("auto_offset_reset", "earliest"))
        member = self.client_config.get("group_member")
        leases = None
        if member and group_id is not None:
            # One of several workers of the group (run --workers N): leases in the log.
            session = int(self.client_config.get("session_timeout_ms") or DEFAULT_SESSION_MS)
            expected = int(self.client_config.get("group_members_expected") or 1)
            leases = GroupLeases(group_id, f"{member}-{os.getpid()}", session, expected)
        consumer = EmbeddedConsumer(self._log, group_id, reset, leases)
        self._consumers.append(consumer)
        return consumer

    def producer(self, *, transactional_id: str | None = None) -> EmbeddedProducer:
        return EmbeddedProducer(self._log, transactional_id)

    async def close(self) -> None:
        """Releases every group lock taken through this transport and closes the database."""
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            await consumer.close()
        self._log.db.close()
