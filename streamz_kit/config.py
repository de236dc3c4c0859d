"""App settings, validated once, with Kafka Streams' defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamz_kit.errors import ConfigError
from streamz_kit.handlers import ErrorHandlers

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"
GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE)


@dataclass
class AppConfig:
    application_id: str
    broker: str = "embedded://.streamz"
    processing_guarantee: str = AT_LEAST_ONCE
    state_dir: Path = field(default_factory=lambda: Path(".streamz") / "state")
    commit_interval_ms: int = 30_000
    num_standby_replicas: int = 0
    # Commit sooner than the interval once this many records await a commit.
    commit_max_records: int = 50_000
    poll_timeout_ms: int = 50
    max_poll_records: int = 5_000
    rocksdb_options: Any = None
    # Record cache size across an app's table nodes (Kafka's statestore.cache.max.bytes);
    # 0 turns the cache off so every update goes downstream at once.
    cache_max_bytes: int = 10 * 1024 * 1024
    # Delete state directories of tasks this worker no longer runs after this long.
    state_cleanup_delay_ms: int = 10 * 60 * 1000
    handlers: ErrorHandlers = field(default_factory=ErrorHandlers)
    # Larger records are production errors (Kafka's default max.request.size).
    max_record_bytes: int = 1024 * 1024
    # OpenTelemetry: True (the global tracer provider) or a TracerProvider; None: off.
    tracing: Any = None
    # Kafka Streams' repartition.purge.interval.ms: how often committed repartition records
    # are deleted (runtime/purge.py).
    repartition_purge_interval_ms: int = 30_000
    client_config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        application_id: str,
        broker: str | None = None,
        processing_guarantee: str = AT_LEAST_ONCE,
        state_dir: str | Path | None = None,
        commit_interval_ms: int | None = None,
        num_standby_replicas: int = 0,
        rocksdb_options: Any = None,
        cache_max_bytes: int = 10 * 1024 * 1024,
        state_cleanup_delay_ms: int = 10 * 60 * 1000,
        deserialization_error_handler: Any = None,
        processing_error_handler: Any = None,
        production_error_handler: Any = None,
        max_record_bytes: int = 1024 * 1024,
        tracing: Any = None,
        repartition_purge_interval_ms: int = 30_000,
        **client_config: Any,
    ) -> "AppConfig":
        if not isinstance(application_id, str) or not application_id.strip():
            raise ConfigError("application_id must be a non-empty string, e.g. App(t, application_id='recs').")
        if any(c in application_id for c in "/\\ \t\n"):
            raise ConfigError(
                f"application_id {application_id!r} names topics and directories; use letters, "
                "digits, '.', '_' and '-' only."
            )
        guarantee = processing_guarantee.replace("-", "_").lower()
        if guarantee == "exactly_once_v2":
            guarantee = EXACTLY_ONCE
        if guarantee not in GUARANTEES:
            raise ConfigError(
                f"processing_guarantee must be 'at_least_once' or 'exactly_once', not "
                f"{processing_guarantee!r}."
            )
        if commit_interval_ms is None:
            # Kafka Streams' defaults: 100 ms under exactly-once, 30 s otherwise.
            commit_interval_ms = 100 if guarantee == EXACTLY_ONCE else 30_000
        if commit_interval_ms < 0:
            raise ConfigError("commit_interval_ms must not be negative.")
        if cache_max_bytes < 0:
            raise ConfigError("cache_max_bytes must not be negative (0 turns the cache off).")
        if repartition_purge_interval_ms < 0:
            raise ConfigError(
                "repartition_purge_interval_ms must not be negative (0 purges after every "
                "commit)."
            )
        if num_standby_replicas < 0:
            raise ConfigError("num_standby_replicas must not be negative.")
        broker = broker or "embedded://.streamz"
        if state_dir is None:
            if broker.startswith("embedded://"):
                state_dir = Path(broker[len("embedded://"):]) / "state"
            else:
                state_dir = Path(".streamz") / "state"
        return cls(
            application_id=application_id,
            broker=broker,
            processing_guarantee=guarantee,
            state_dir=Path(state_dir).resolve(),
            commit_interval_ms=int(commit_interval_ms),
            num_standby_replicas=num_standby_replicas,
            rocksdb_options=rocksdb_options,
            cache_max_bytes=int(cache_max_bytes),
            state_cleanup_delay_ms=int(state_cleanup_delay_ms),
            handlers=ErrorHandlers.build(
                deserialization_error_handler, processing_error_handler, production_error_handler
            ),
            max_record_bytes=int(max_record_bytes),
            tracing=tracing or None,
            repartition_purge_interval_ms=int(repartition_purge_interval_ms),
            client_config=dict(client_config),
        )

    @property
    def cache_max_entries(self) -> int:
        """Entries per caching node; ~256 bytes an entry is the estimate behind the bound."""
        return self.cache_max_bytes // 256

    @property
    def exactly_once(self) -> bool:
        return self.processing_guarantee == EXACTLY_ONCE

    def changelog_topic(self, store: str) -> str:
        return f"{self.application_id}-{store}-changelog"

    def internal_topic(self, name: str) -> str:
        return f"{self.application_id}-{name}"

    @property
    def app_state_dir(self) -> Path:
        return self.state_dir / self.application_id
