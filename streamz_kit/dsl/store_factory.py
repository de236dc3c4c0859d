"""Store builders for the DSL's own stores, with serdes resolved from upstream or defaults."""

from __future__ import annotations

from typing import Any

from streamz_kit import serdes as _serdes
from streamz_kit.dsl.materialized import Materialized
from streamz_kit.stores import StoreBuilder
from streamz_kit.windows import to_millis

# The DSL's serdes when neither the step nor its upstream names one (here, not in the
# grammar modules, so that every DSL helper can read them without importing the grammar).
DEFAULT_KEY_SERDE: Any = _serdes.STRING
DEFAULT_VALUE_SERDE: Any = _serdes.JSON


def resolve_serdes(key_serde: Any, value_serde: Any) -> tuple[Any, Any]:
    return key_serde or DEFAULT_KEY_SERDE, value_serde or DEFAULT_VALUE_SERDE


def kv_store_builder(
    name: str,
    materialized: Materialized,
    key_serde: Any,
    value_serde: Any,
    *,
    logging: bool | None = None,
) -> StoreBuilder:
    """The timestamped key-value store behind a KTable (or a versioned one, KIP-889)."""
    ks, vs = resolve_serdes(
        materialized.key_serde or key_serde, materialized.value_serde or value_serde
    )
    if materialized.store == "versioned":
        return StoreBuilder(
            name,
            "versioned",
            "rocksdb",
            ks,
            vs,
            logging=materialized.logging if logging is None else logging,
            caching=False,  # every version matters: nothing is collapsed (as Kafka)
            retention_ms=to_millis(materialized.history_retention, "history retention"),
        )
    return StoreBuilder(
        name,
        "timestamped_kv",
        materialized.store,  # type: ignore[arg-type]
        ks,
        vs,
        logging=materialized.logging if logging is None else logging,
        caching=materialized.caching,
    )


def window_store_builder(
    name: str,
    kind: str,
    windows: Any,
    materialized: Materialized,
    key_serde: Any,
    value_serde: Any,
    window_size_ms: int | None,
    *,
    time_ordered: bool = False,
) -> StoreBuilder:
    """The window ("window") or session ("session") store of a windowed aggregation. It keeps
    windows for their size plus grace at least, as Kafka requires; a longer Materialized
    retention keeps them queryable for longer."""
    retention: int = windows.retention_ms
    if materialized.retention is not None:
        retention = max(retention, to_millis(materialized.retention, "retention"))
    return StoreBuilder(
        name,
        kind,  # type: ignore[arg-type]
        materialized.store,  # type: ignore[arg-type]
        key_serde,
        value_serde,
        logging=materialized.logging,
        caching=materialized.caching,
        retention_ms=retention,
        window_size_ms=window_size_ms,
        timestamped=kind == "window",
        time_ordered=time_ordered,
    )
