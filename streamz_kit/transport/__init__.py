"""The transport port and `connect`, which picks the adapter for a broker URL.

The runtime imports from here only; adapters are imported when a URL asks for them, so
the Kafka client is never loaded by an App running on the embedded broker.
"""

from __future__ import annotations

from typing import Any

from streamz_kit.errors import ConfigError
from streamz_kit.transport.port import (
    Admin,
    ConsumedRecord,
    Consumer,
    Headers,
    OffsetSpec,
    Producer,
    ProducerRecord,
    RebalanceCallback,
    TopicPartition,
    TopicSpec,
    Transport,
)

__all__ = [
    "Admin",
    "ConsumedRecord",
    "Consumer",
    "Headers",
    "OffsetSpec",
    "Producer",
    "ProducerRecord",
    "RebalanceCallback",
    "TopicPartition",
    "TopicSpec",
    "Transport",
    "connect",
]

_FORMS = (
    "use 'embedded://PATH' for the embedded log (e.g. 'embedded://.streamz') or "
    "'kafka://host:port[,host:port]' for Kafka"
)


def connect(url: str, **client_config: Any) -> Transport:
    """A Transport for `url` (not started yet: `await transport.start()`).

    `embedded://PATH` resolves a relative PATH against the current directory now, so a
    later chdir cannot move the log; `client_config` goes to the Kafka client.
    """
    scheme, sep, rest = str(url).partition("://")
    scheme = scheme.strip().lower()
    if sep and scheme == "embedded":
        if not rest.strip():
            raise ConfigError(f"The broker URL {url!r} names no directory; {_FORMS}.")
        from streamz_kit.transport.embedded import EmbeddedTransport

        return EmbeddedTransport(rest, **client_config)
    if sep and scheme == "kafka":
        servers = ",".join(s.strip() for s in rest.split(",") if s.strip())
        if not servers:
            raise ConfigError(f"The broker URL {url!r} names no Kafka server; {_FORMS}.")
        from streamz_kit.transport.kafka import KafkaTransport

        transport: Transport = KafkaTransport(servers, **client_config)
        return transport
    raise ConfigError(f"The broker URL {url!r} is not one streamz_kit understands; {_FORMS}.")
