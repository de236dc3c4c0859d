"""Client settings and the connect-with-retry step shared by the Kafka admin, consumer and producer.

Why one place: every aiokafka client must (1) get only the settings its constructor accepts,
(2) never leak credentials into a log line or an error, and (3) turn "the broker is not
there" into a bounded retry followed by a `BrokerError` that says what to check, instead of
aiokafka's immediate failure (bootstrap) or a silent 40 s hang (a frozen broker).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from streamz_kit.errors import BrokerError, ConfigError

log = logging.getLogger("streamz_kit.transport.kafka")

# Settings of ours, not aiokafka's.
_OWN_KEYS = {"connect_timeout_s", "replication_factor", "rebalance_protocol"}
REBALANCE_PROTOCOLS = ("eager", "cooperative")
# Settings the adapter decides itself because the runtime's guarantees depend on them.
_FIXED_KEYS = {
    "bootstrap_servers",
    "group_id",
    "transactional_id",
    "enable_auto_commit",
    "isolation_level",
    "auto_offset_reset",
    "loop",
    "key_serializer",
    "value_serializer",
    "key_deserializer",
    "value_deserializer",
}
_SECRET_HINTS = ("password", "token", "secret", "ssl_context", "key")


def _accepted(cls: type) -> set[str]:
    params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    return {
        n
        for n, p in params.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        or p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    } - {"self"}


_ADMIN_KEYS = _accepted(AIOKafkaAdminClient)
_CONSUMER_KEYS = _accepted(AIOKafkaConsumer)
_PRODUCER_KEYS = _accepted(AIOKafkaProducer)
# Every setting name a Kafka client config may hold (AppConfig checks App(...) keys with it).
CLIENT_SETTINGS = frozenset(_ADMIN_KEYS | _CONSUMER_KEYS | _PRODUCER_KEYS | _OWN_KEYS | _FIXED_KEYS)


@dataclass(frozen=True, repr=False)
class KafkaSettings:
    """Bootstrap servers plus pass-through client settings, split per aiokafka client."""

    bootstrap_servers: str
    client_config: dict[str, Any] = field(default_factory=dict)
    connect_timeout_s: float = 30.0
    replication_factor: int = 1
    # "cooperative": KIP-429 incremental rebalancing (transport/kafka/cooperative.py).
    rebalance_protocol: str = "eager"

    @classmethod
    def build(cls, bootstrap_servers: str, client_config: dict[str, Any]) -> KafkaSettings:
        servers = bootstrap_servers.removeprefix("kafka://").strip()
        if not servers:
            raise ConfigError(
                "No Kafka bootstrap servers given; pass them as 'host:port[,host2:port]'."
            )
        passthrough: dict[str, Any] = {}
        for key, value in client_config.items():
            if key in _OWN_KEYS:
                continue
            if key in _FIXED_KEYS:
                raise ConfigError(
                    f"The Kafka client setting {key!r} is set by streamz_kit itself "
                    "(it decides offsets, commits and isolation); remove it from the config."
                )
            if key not in _ADMIN_KEYS | _CONSUMER_KEYS | _PRODUCER_KEYS:
                raise ConfigError(
                    f"Unknown Kafka client setting {key!r}; use the keyword names of "
                    "aiokafka's AIOKafkaConsumer / AIOKafkaProducer (e.g. security_protocol, "
                    "sasl_mechanism, sasl_plain_username, ssl_context, request_timeout_ms)."
                )
            passthrough[key] = value
        protocol = str(client_config.get("rebalance_protocol", "eager"))
        if protocol not in REBALANCE_PROTOCOLS:
            raise ConfigError(
                f"rebalance_protocol must be 'eager' or 'cooperative', not {protocol!r}; every "
                "worker of one application must use the same."
            )
        return cls(
            bootstrap_servers=servers,
            rebalance_protocol=protocol,
            client_config=passthrough,
            connect_timeout_s=float(client_config.get("connect_timeout_s", 30.0)),
            replication_factor=int(client_config.get("replication_factor", 1)),
        )

    def _for(self, accepted: set[str], **fixed: Any) -> dict[str, Any]:
        kwargs = {k: v for k, v in self.client_config.items() if k in accepted}
        kwargs.update(fixed)
        kwargs["bootstrap_servers"] = self.bootstrap_servers
        return kwargs

    def admin_kwargs(self) -> dict[str, Any]:
        return self._for(_ADMIN_KEYS)

    def consumer_kwargs(self, **fixed: Any) -> dict[str, Any]:
        return self._for(_CONSUMER_KEYS, **fixed)

    def producer_kwargs(self, **fixed: Any) -> dict[str, Any]:
        kwargs = self._for(_PRODUCER_KEYS, **fixed)
        # Few large batches: Tansu reads many tiny batches back slowly, and so does Kafka.
        kwargs.setdefault("max_batch_size", 512 * 1024)
        kwargs.setdefault("acks", "all")
        return kwargs

    def __repr__(self) -> str:
        shown = {
            k: ("***" if any(h in k for h in _SECRET_HINTS) else v)
            for k, v in self.client_config.items()
        }
        return f"KafkaSettings({self.bootstrap_servers!r}, {shown})"


C = TypeVar("C")


async def start_client(
    settings: KafkaSettings,
    make: Callable[[], C],
    start: Callable[[C], Awaitable[None]],
    stop: Callable[[C], Awaitable[None]],
    what: str,
) -> C:
    """Create and start an aiokafka client, retrying with backoff until `connect_timeout_s`.

    A fresh client per attempt: aiokafka clients are not reliably restartable after a
    failed or cancelled start.
    """
    deadline = time.monotonic() + settings.connect_timeout_s
    delay = 0.1
    attempts = 0
    while True:
        attempts += 1
        client = make()
        remaining = deadline - time.monotonic()
        refused = _LoginRefused()
        _AIOKAFKA_CLIENT_LOG.addHandler(refused)
        try:
            await asyncio.wait_for(start(client), timeout=max(remaining, 0.01))
            return client
        except (TimeoutError, KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
            await _quiet_stop(stop, client)
            last = describe(exc)
        except KafkaError:
            await _quiet_stop(stop, client)
            raise
        finally:
            _AIOKAFKA_CLIENT_LOG.removeHandler(refused)
        if refused.reason:
            # A wrong login does not get better by waiting: say so at once.
            raise BrokerError(
                f"Kafka at {settings.bootstrap_servers} refused the login of the {what} "
                f"({refused.reason}); check security_protocol, sasl_mechanism, "
                "sasl_plain_username and sasl_plain_password."
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerError(
                f"Cannot reach Kafka at {settings.bootstrap_servers} to start the {what} "
                f"({attempts} attempts in {settings.connect_timeout_s:g} s; last error: {last}). "
                "Check that the broker is running and reachable from here, that "
                "bootstrap_servers and the broker's advertised listeners are right, and that "
                "security_protocol / SASL settings match the listener; raise "
                "connect_timeout_s to wait longer."
            )
        log.warning(
            "Kafka at %s not reachable for the %s (%s); retrying in %.1f s",
            settings.bootstrap_servers,
            what,
            last,
            min(delay, remaining),
        )
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)


# aiokafka reports why a bootstrap connection failed only in this logger's records (the
# exception it raises just says "Unable to bootstrap"); an authentication failure is there.
_AIOKAFKA_CLIENT_LOG = logging.getLogger("aiokafka")


class _LoginRefused(logging.Handler):
    """Notes an authentication failure that aiokafka logs while a client starts."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reason = ""

    def emit(self, record: logging.LogRecord) -> None:
        for arg in record.args if isinstance(record.args, tuple) else ():
            if isinstance(arg, KafkaError) and "Authentication" in type(arg).__name__:
                self.reason = describe(arg)


async def _quiet_stop(stop: Callable[[C], Awaitable[None]], client: C) -> None:
    try:
        await asyncio.wait_for(stop(client), timeout=2.0)
    except Exception:
        log.debug("ignored error while discarding a Kafka client", exc_info=True)


T = TypeVar("T")


async def retrying(settings: KafkaSettings, doing: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run one admin call, retrying transient broker errors for up to `connect_timeout_s`.

    Why: a broker that restarts, or wakes up from a pause, answers for a moment without
    leaders or broker metadata (NodeNotReady, NotLeader, coordinator loading). Those pass
    within seconds; failing the worker on the first one would turn a blip into an outage.
    Errors Kafka marks as permanent are raised at once, as `BrokerError` naming `doing`.
    """
    deadline = time.monotonic() + settings.connect_timeout_s
    delay = 0.1
    while True:
        try:
            return await call()
        except KafkaError as exc:
            transient = getattr(exc, "retriable", False) or isinstance(exc, KafkaTimeoutError)
            if not transient or time.monotonic() + delay > deadline:
                raise broker_error(exc, doing) from exc
            log.warning("Kafka could not %s (%s); retrying in %.1f s", doing, describe(exc), delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def broker_error(exc: BaseException, doing: str) -> BrokerError:
    """Wrap an aiokafka error in ours, naming the operation that failed."""
    return BrokerError(
        f"Kafka refused to {doing} ({describe(exc)}); check the broker's log and retry."
    )


def describe(exc: BaseException) -> str:
    """`Type: message`, without aiokafka's habit of repeating the type inside the message."""
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"
