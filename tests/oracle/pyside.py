"""The Python side of the oracle: run a case through streamz_kit's TopologyTestDriver and
report in the shape the Java side prints (interop/kstreams-oracle Main.java)."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes
from streamz_kit.testing import TopologyTestDriver
from tests.oracle.scenarios import load_all

SERDES: dict[str, Any] = {"long": serdes.LONG, "string": serdes.STRING, "json": serdes.JSON}


def _headers(headers: Any) -> list[list[Any]]:
    return [[k, None if v is None else bytes(v).decode()] for k, v in headers]


def _dump(driver: TopologyTestDriver, name: str, kind: str) -> list[list[Any]]:
    if kind == "kv":
        return [[k, v] for k, v in driver.get_key_value_store(name).all()]
    if kind == "window":
        view = driver.get_window_store(name)
    elif kind == "session":
        view = driver.get_session_store(name)
    else:
        raise ValueError(f"unknown store kind {kind!r}")
    return [[wk.key, wk.window.start, wk.window.end, v] for wk, v in view.all()]


def run_python(case: dict[str, Any]) -> dict[str, Any]:
    """Run CASE through streamz_kit; the result has the Java side's keys."""
    scenarios = load_all()
    result: dict[str, Any] = {"id": case.get("id"), "outputs": [], "stores": {}, "error": None}
    sc = scenarios[case["scenario"]]
    builder = sk.StreamsBuilder()
    try:
        sc.build(builder, case.get("params", {}))
        topology = builder.build()
    except Exception as exc:  # noqa: BLE001 - reported and compared like the JVM's error
        result["error"] = f"build: {type(exc).__name__}: {exc}"
        return result
    if case.get("store", "rocksdb") == "memory":
        builders = topology.graph.store_builders
        for name, store_builder in list(builders.items()):
            builders[name] = dataclasses.replace(store_builder, store="memory")
    config = {"cache_max_bytes": case.get("cache_bytes", 0)}
    step = -1
    outputs: list[list[Any]] = result["outputs"]
    try:
        with TopologyTestDriver(
            topology, config=config, initial_wall_clock_time_ms=case.get("wall_clock_start", 0)
        ) as d:
            inputs = {
                t: d.create_input_topic(t, key_serde=serdes.STRING, value_serde=SERDES[s])
                for t, s in case["inputs"].items()
            }
            outs = {
                t: d.create_output_topic(t, key_serde=serdes.STRING, value_serde=SERDES[s])
                for t, s in case["outputs"].items()
            }
            for step, s in enumerate(case["steps"]):
                if "advance" in s:
                    d.advance_wall_clock_time(s["advance"])
                else:
                    inputs[s["t"]].pipe_input(
                        s.get("k"),
                        s.get("v"),
                        timestamp_ms=s["ts"],
                        headers=[(h, v.encode()) for h, v in s.get("h", ())],
                    )
                for topic, out in outs.items():
                    for r in out.read_records_to_list():
                        outputs.append(
                            [step, topic, r.key, r.value, r.timestamp_ms, _headers(r.headers)]
                        )
            step = -2
            for name, kind in case.get("stores", {}).items():
                result["stores"][name] = _dump(d, name, kind)
    except Exception as exc:  # noqa: BLE001
        where = "stores" if step == -2 else f"step {step}"
        result["error"] = f"{where}: {type(exc).__name__}: {exc}"
    return result
