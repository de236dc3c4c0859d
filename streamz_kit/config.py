"""App settings: one frozen, validated `AppConfig`, every default written once, here.

`App(topology, application_id=..., **settings)` and the CLI's `run` options both end in
`AppConfig.from_settings`, which
- takes every field below by name (each runtime knob: poll timeout, poll size, commit
  interval and size, cache size, ...);
- puts Kafka client settings (SASL, TLS, timeouts: the keyword names of aiokafka's clients,
  or `auto_offset_reset` on the embedded broker) into `client_config`, or takes them
  explicitly as `client_config={...}`;
- rejects anything else with a sentence naming the closest valid setting, so
  `App(..., comit_interval_ms=5)` fails instead of being passed silently to the client.
Settings that depend on others (the state directory on the broker, the commit interval on
the guarantee) are derived by `from_settings` when not given; `explicit` remembers which
were given, so `replace()` derives the rest again.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from streamz_kit.errors import ConfigError
from streamz_kit.handlers import ErrorHandlers

AT_LEAST_ONCE = "at_least_once"
EXACTLY_ONCE = "exactly_once"
GUARANTEES = (AT_LEAST_ONCE, EXACTLY_ONCE)
DEFAULT_BROKER = "embedded://.streamz"
# Kafka Streams' commit.interval.ms defaults, by guarantee.
COMMIT_INTERVAL_MS = {AT_LEAST_ONCE: 30_000, EXACTLY_ONCE: 100}
# Settings read by the embedded broker (Kafka's own client keys are ignored there).
EMBEDDED_CLIENT_SETTINGS = frozenset(
    {"auto_offset_reset", "group_member", "group_members_expected"}
)


def _knob(default: int, help: str, minimum: int = 0) -> Any:
    """An integer runtime setting: settable from App(...) and as a `run` CLI option."""
    return field(default=default, metadata={"help": help, "minimum": minimum, "knob": True})


@dataclass(frozen=True)
class AppConfig:
    application_id: str
    broker: str = DEFAULT_BROKER
    processing_guarantee: str = AT_LEAST_ONCE
    # Not given: <embedded broker path>/state, or .streamz/state on Kafka.
    state_dir: Path = Path(".streamz") / "state"
    # Not given: the guarantee's default (COMMIT_INTERVAL_MS). The most time between two
    # commits: exactly_once on the embedded log also commits once the worker has caught up
    # with its input (runtime/worker.py, Worker._eager_commit_wait).
    commit_interval_ms: int = COMMIT_INTERVAL_MS[AT_LEAST_ONCE]
    num_standby_replicas: int = _knob(
        0, "Kafka: warm copies of other workers' stores kept here for fast failover."
    )
    commit_max_records: int = _knob(
        50_000, "Commit sooner than the interval once this many records await a commit.", 1
    )
    poll_timeout_ms: int = _knob(50, "How long one poll waits for records (ms).")
    max_poll_records: int = _knob(5_000, "Most records one poll returns.", 1)
    cache_max_bytes: int = _knob(
        10 * 1024 * 1024,
        "Record cache size across the table nodes (Kafka's statestore.cache.max.bytes); "
        "0 sends every update downstream at once.",
    )
    state_cleanup_delay_ms: int = _knob(
        10 * 60 * 1000, "Delete state of tasks no longer run here after this long (ms)."
    )
    max_record_bytes: int = _knob(
        1024 * 1024, "Larger output records are production errors (Kafka's max.request.size).", 1
    )
    repartition_purge_interval_ms: int = _knob(
        30_000, "How often committed repartition records are deleted (ms; 0: every commit)."
    )
    workers: int = _knob(
        1,
        "Worker processes of this application on this machine, supervised, sharing its "
        "partitions (each keeps its own state directory <state-dir>/worker-<i>).",
        1,
    )
    rocksdb_options: Any = None
    deserialization_error_handler: Any = None
    processing_error_handler: Any = None
    production_error_handler: Any = None
    # OpenTelemetry: True (the global tracer provider) or a TracerProvider; None: off.
    tracing: Any = None
    # Settings for the broker's clients (SASL, TLS, timeouts, group_instance_id, ...).
    client_config: Mapping[str, Any] = field(default_factory=dict)
    # Which settings were given (the rest are defaults or derived); see `replace`.
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    handlers: ErrorHandlers = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        app_id = self.application_id
        if not isinstance(app_id, str) or not app_id.strip():
            raise ConfigError(
                "application_id must be a non-empty string, e.g. App(t, application_id='recs')."
            )
        if any(c in app_id for c in "/\\ \t\n"):
            raise ConfigError(
                f"application_id {app_id!r} names topics and directories; use letters, "
                "digits, '.', '_' and '-' only."
            )
        set_(self, "processing_guarantee", _guarantee(self.processing_guarantee))
        set_(self, "broker", self.broker or DEFAULT_BROKER)
        set_(self, "state_dir", Path(self.state_dir).resolve())
        if int(self.commit_interval_ms) < 0:
            raise ConfigError("commit_interval_ms must not be negative.")
        set_(self, "commit_interval_ms", int(self.commit_interval_ms))
        for knob in _knobs():
            value = getattr(self, knob.name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{knob.name} must be a whole number, not {value!r}.")
            if value < knob.metadata["minimum"]:
                raise ConfigError(
                    f"{knob.name} must be at least {knob.metadata['minimum']}, "
                    f"not {value} ({knob.metadata['help']})"
                )
        set_(self, "tracing", self.tracing or None)
        set_(self, "client_config", MappingProxyType(dict(self.client_config)))
        set_(
            self,
            "handlers",
            ErrorHandlers.build(
                self.deserialization_error_handler,
                self.processing_error_handler,
                self.production_error_handler,
            ),
        )

    @classmethod
    def from_settings(cls, **settings: Any) -> AppConfig:
        """The config for these settings (None means "not given"); see the module docstring."""
        names = {f.name for f in dataclasses.fields(cls) if f.init} - {"explicit"}
        given = {k: v for k, v in settings.items() if v is not None}
        client = dict(given.pop("client_config", None) or {})
        unknown = [k for k in given if k not in names]
        if unknown:
            known_client = known_client_settings()
            for key in unknown:
                if key not in known_client:
                    raise ConfigError(_unknown_setting(key, names, known_client))
                client[key] = given.pop(key)
        explicit = frozenset(given) | ({"client_config"} if client else frozenset())
        derived: dict[str, Any] = {}
        if "state_dir" not in given:
            broker = str(given.get("broker") or DEFAULT_BROKER)
            embedded = broker.startswith("embedded://")
            root = broker[len("embedded://") :] if embedded else ".streamz"
            derived["state_dir"] = Path(root) / "state"
        if "commit_interval_ms" not in given:
            guarantee = _guarantee(given.get("processing_guarantee", AT_LEAST_ONCE))
            derived["commit_interval_ms"] = COMMIT_INTERVAL_MS[guarantee]
        return cls(**given, **derived, client_config=client, explicit=explicit)

    # Kept for callers of the former builder.
    build = from_settings

    def replace(self, **changes: Any) -> AppConfig:
        """The given settings of this config with `changes` applied (None: back to the
        default), derived settings derived again."""
        settings = {k: getattr(self, k) for k in self.explicit}
        settings.update(changes)
        return AppConfig.from_settings(**settings)

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


def _guarantee(value: Any) -> str:
    """The canonical name of a processing guarantee (Kafka's spellings accepted)."""
    guarantee = str(value).replace("-", "_").lower()
    if guarantee == "exactly_once_v2":
        guarantee = EXACTLY_ONCE
    if guarantee not in GUARANTEES:
        raise ConfigError(
            f"processing_guarantee must be 'at_least_once' or 'exactly_once', not {value!r}."
        )
    return guarantee


def _knobs() -> Iterator[dataclasses.Field[Any]]:
    return (f for f in dataclasses.fields(AppConfig) if f.metadata.get("knob"))


def runtime_knobs() -> list[tuple[str, str]]:
    """(name, help) of every integer runtime setting (the CLI makes an option of each)."""
    return [(f.name, f.metadata["help"]) for f in _knobs()]


def known_client_settings() -> frozenset[str]:
    """Keys the brokers' clients accept: the embedded broker's and aiokafka's (imported
    only now: an app on the embedded broker that passes none never loads the Kafka client)."""
    from streamz_kit.transport.kafka._client import CLIENT_SETTINGS

    return EMBEDDED_CLIENT_SETTINGS | CLIENT_SETTINGS


def _unknown_setting(key: str, names: set[str], client: frozenset[str]) -> str:
    close = difflib.get_close_matches(key, sorted(names | client), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"Unknown setting {key!r}: {hint}App settings are {', '.join(sorted(names))}; "
        "Kafka client settings are aiokafka's keyword names (security_protocol, "
        "sasl_mechanism, ...), or pass any client setting in client_config={...}."
    )
