"""`KafkaTransport`: the factory for Kafka admin, consumer and producer clients.

Clients start lazily at their first awaited call, each retrying the connection for
`connect_timeout_s` (default 30 s) before raising `BrokerError`. `start()` checks reachability
up front so an application fails at startup, not at its first commit.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.transport.kafka._client import KafkaSettings
from streamz_kit.transport.kafka.admin import KafkaAdmin
from streamz_kit.transport.kafka.consumer import KafkaConsumer
from streamz_kit.transport.kafka.producer import KafkaProducer
from streamz_kit.transport.port import Admin, Consumer, Producer, Transport


class KafkaTransport(Transport):
    """A connection to one Kafka cluster (or a Kafka-compatible broker such as Tansu).

    `client_config` passes through to aiokafka (security_protocol, sasl_mechanism,
    sasl_plain_username, sasl_plain_password, ssl_context, client_id, request_timeout_ms,
    group_instance_id for static membership, session_timeout_ms, max_batch_size, ...);
    each client gets the keys its constructor accepts. Our own keys: `connect_timeout_s`
    (default 30), `replication_factor` for created topics (default 1) and
    `rebalance_protocol` ("eager" or "cooperative", see transport/kafka/cooperative.py).
    """

    def __init__(self, bootstrap_servers: str, **client_config: Any) -> None:
        self._settings = KafkaSettings.build(bootstrap_servers, client_config)
        self.url = f"kafka://{self._settings.bootstrap_servers}"
        self._internal_admin = KafkaAdmin(self._settings)
        self._clients: list[Admin | Consumer | Producer] = []

    @property
    def bootstrap_servers(self) -> str:
        return self._settings.bootstrap_servers

    async def start(self) -> None:
        """Fail fast (after the retry window) when the cluster cannot be reached."""
        await self._internal_admin.list_topics()

    def admin(self) -> KafkaAdmin:
        admin = KafkaAdmin(self._settings)
        self._clients.append(admin)
        return admin

    def consumer(
        self, *, group_id: str | None, client_id: str = "streamz-kit", read_committed: bool = True
    ) -> KafkaConsumer:
        consumer = KafkaConsumer(
            self._settings,
            self._internal_admin,
            group_id=group_id,
            client_id=client_id,
            read_committed=read_committed,
        )
        self._clients.append(consumer)
        return consumer

    def producer(self, *, transactional_id: str | None = None) -> KafkaProducer:
        producer = KafkaProducer(self._settings, transactional_id=transactional_id)
        self._clients.append(producer)
        return producer

    async def close(self) -> None:
        """Close every client this transport made (closing twice is harmless)."""
        clients, self._clients = self._clients, []
        for client in reversed(clients):
            await client.close()
        await self._internal_admin.close()

    def __repr__(self) -> str:
        return f"KafkaTransport({self._settings!r})"
