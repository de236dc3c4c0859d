"""`Materialized`: how a table's state is kept (store name, kind, serdes, logging, caching)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamz_kit.errors import TopologyError

STORE_TYPES = ("rocksdb", "memory", "versioned")


@dataclass(frozen=True)
class Materialized:
    """Name a table's store (so it can be queried) and choose how it is kept.

    `Materialized("user-profiles")` names the store; the changelog topic becomes
    `<application_id>-user-profiles-changelog`.
    """

    name: str | None = None
    store: str = "rocksdb"
    key_serde: Any = None
    value_serde: Any = None
    logging: bool = True
    caching: bool = True
    retention: Any = None  # timedelta | int ms, for window and session stores
    history_retention: Any = None  # timedelta | int ms, for store="versioned"

    def __init__(
        self,
        name: str | None = None,
        *,
        store: str = "rocksdb",
        key_serde: Any = None,
        value_serde: Any = None,
        logging: bool = True,
        caching: bool = True,
        retention: Any = None,
        history_retention: Any = None,
    ) -> None:
        if store not in STORE_TYPES:
            raise TopologyError(f"Materialized store must be one of {STORE_TYPES}, not {store!r}.")
        if store == "versioned" and history_retention is None:
            raise TopologyError(
                "Materialized(store='versioned') needs history_retention=, e.g. "
                "timedelta(hours=1): how far back get(key, as_of=...) and joins can look."
            )
        if history_retention is not None and store != "versioned":
            raise TopologyError("history_retention= applies to store='versioned' only.")
        if name is not None and (not isinstance(name, str) or not name):
            raise TopologyError("Materialized name must be a non-empty string.")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "store", store)
        object.__setattr__(self, "key_serde", key_serde)
        object.__setattr__(self, "value_serde", value_serde)
        object.__setattr__(self, "logging", logging)
        object.__setattr__(self, "caching", caching)
        object.__setattr__(self, "retention", retention)
        object.__setattr__(self, "history_retention", history_retention)

    @classmethod
    def as_(cls, name: str) -> Materialized:
        return cls(name)
