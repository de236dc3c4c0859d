"""Interactive queries over HTTP: URL text in, JSON-ready answers out.

Each function returns (HTTP status, body). A store whose tasks are restoring answers 503
"not ready" (App.store refuses it), so a client never reads half-restored state.
"""

from __future__ import annotations

from typing import Any

import orjson

from streamz_kit import serdes
from streamz_kit.errors import InvalidStateStoreError, StreamzError
from streamz_kit.windows import Window, Windowed

Answer = tuple[int, Any]
DEFAULT_LIMIT = 1000


def parse_key(text: str, key_serde: Any) -> Any:
    """URL keys are text; make them what the store's key serde holds."""
    if isinstance(key_serde, (serdes.IntSerde, serdes.LongSerde)):
        return int(text)
    if isinstance(key_serde, serdes.FloatSerde):
        return float(text)
    if isinstance(key_serde, serdes.BytesSerde):
        return text.encode()
    if isinstance(key_serde, serdes.JsonSerde):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text  # a bare word is a JSON string key; quote numbers to mean strings
    return text


def jsonable(obj: Any) -> Any:
    """orjson's fallback for what stores hold besides plain JSON values."""
    if isinstance(obj, Windowed):
        return {"key": obj.key, "start": obj.window.start, "end": obj.window.end}
    if isinstance(obj, Window):
        return {"start": obj.start, "end": obj.end}
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, default=jsonable, option=orjson.OPT_NON_STR_KEYS)


class _Refused(Exception):
    """A query that cannot be answered with data: carries the error answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.answer: Answer = (status, body)


def _open(app: Any, name: str) -> tuple[Any, Any]:
    """(read-only view, store builder), or _Refused with a 404 or a 503 "not ready"."""
    if name not in app.topology.store_names:
        raise _Refused(
            404,
            {
                "error": "no such store",
                "message": f"No state store named {name!r}; stores: {app.topology.store_names}.",
            },
        )
    try:
        view = app.store(name)
    except InvalidStateStoreError as exc:
        raise _Refused(503, {"error": "not ready", "store": name, "message": str(exc)}) from None
    return view, app.topology.store_builder(name)


def _int_param(params: dict[str, str], name: str, default: int | None) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return default
    return int(text)


def get_key(app: Any, name: str, key_text: str, params: dict[str, str] | None = None) -> Answer:
    view, builder = _open(app, name)
    key = parse_key(key_text, builder.key_serde)
    if builder.kind in ("window", "session"):
        return 400, {
            "error": "window store",
            "message": f"{name!r} is a {builder.kind} store; ask "
            f"/stores/{name}/<key>/windows?from=MS&to=MS.",
        }
    as_of = _int_param(params or {}, "as_of", None)
    if builder.kind == "versioned":
        record = view.get_versioned(key, as_of)
        if record is None:
            when = "now" if as_of is None else f"as of {as_of}"
            return 404, {
                "error": "not found",
                "store": name,
                "key": key,
                "as_of": as_of,
                "message": f"Store {name!r} holds no value for key {key!r} {when} "
                "on this worker (or that time is older than its history).",
            }
        return 200, {
            "store": name,
            "key": key,
            "value": record.value,
            "timestamp": record.timestamp,
            "valid_to": record.valid_to,
        }
    if as_of is not None:
        return 400, {
            "error": "not a versioned store",
            "message": f"{name!r} keeps only the latest values; as_of= needs a "
            "store materialized with store='versioned'.",
        }
    value = view.get(key)
    if value is None:
        return 404, {
            "error": "not found",
            "store": name,
            "key": key,
            "message": f"Store {name!r} holds no value for key {key!r} on this worker.",
        }
    return 200, {"store": name, "key": key, "value": value}


def get_range(app: Any, name: str, params: dict[str, str]) -> Answer:
    view, builder = _open(app, name)
    limit = _int_param(params, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT
    if builder.kind == "window":
        t_from = _int_param(params, "from", 0) or 0
        t_to = _int_param(params, "to", 2**62)
        rows = view.fetch_all(t_from, t_to)
        items = [{"key": w, "value": v} for w, v in rows[:limit]]
    elif builder.kind == "session":
        items = [{"key": w, "value": v} for w, v in list(view.all())[:limit]]
    else:
        lo = params.get("from")
        hi = params.get("to")
        if lo is None and hi is None:
            it = view.all()
        else:
            ks = builder.key_serde
            it = view.range(
                None if lo is None else parse_key(lo, ks), None if hi is None else parse_key(hi, ks)
            )
        items = []
        for k, v in it:
            if len(items) >= limit:
                break
            items.append({"key": k, "value": v})
    return 200, {"store": name, "count": len(items), "items": items}


def get_windows(app: Any, name: str, key_text: str, params: dict[str, str]) -> Answer:
    view, builder = _open(app, name)
    key = parse_key(key_text, builder.key_serde)
    t_from = _int_param(params, "from", 0) or 0
    t_to = _int_param(params, "to", 2**62)
    assert t_to is not None
    if builder.kind == "window":
        size = builder.window_size_ms or 0
        rows = view.fetch(key, t_from, t_to)
        windows = [{"start": s, "end": s + size, "value": v} for s, v in rows]
    elif builder.kind == "session":
        windows = [
            {"start": w.start, "end": w.end, "value": v}
            for w, v in view.fetch(key)
            if w.end >= t_from and w.start <= t_to
        ]
    else:
        return 400, {
            "error": "not a window store",
            "message": f"{name!r} is a key-value store; ask /stores/{name}/<key>.",
        }
    return 200, {"store": name, "key": key, "windows": windows}


def answer_store(app: Any, parts: list[str], params: dict[str, str]) -> Answer:
    """Route /stores/<store>[/<key>[/windows]] (parts already URL-decoded)."""
    try:
        if len(parts) == 1:
            return get_range(app, parts[0], params)
        if len(parts) == 2:
            return get_key(app, parts[0], parts[1], params)
        if len(parts) == 3 and parts[2] == "windows":
            return get_windows(app, parts[0], parts[1], params)
    except _Refused as refused:
        return refused.answer
    except ValueError as exc:
        return 400, {
            "error": "bad request",
            "message": f"{exc}; keys and times must match "
            "the store's key serde, times are integers in ms.",
        }
    except StreamzError as exc:
        return 503, {"error": "not ready", "message": str(exc)}
    return 404, {
        "error": "no such route",
        "message": "Ask /stores/<store>, /stores/<store>/<key> or "
        "/stores/<store>/<key>/windows?from=MS&to=MS.",
    }
