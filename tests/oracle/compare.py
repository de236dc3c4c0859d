"""Compare Kafka Streams' answer with streamz_kit's, and print a difference as a
ready-to-paste regression test (the case plus Kafka's own answer as the expectation)."""

from __future__ import annotations

import json
import pprint
import re
from typing import Any

from tests.oracle.pyside import run_python
from tests.oracle.scenarios import load_all


def _sort_key(row: Any) -> str:
    return json.dumps(row, sort_keys=True)


def normalize(result: dict[str, Any], order: str, headers: bool = True) -> dict[str, Any]:
    """What is compared: outputs in order (or per key within a step where Kafka leaves the
    order across keys undefined), stores as sorted rows, and where an error happened."""
    outputs = [list(row) if headers else list(row[:5]) for row in result.get("outputs", [])]
    if order == "per_key":
        outputs = sorted(outputs, key=lambda r: (r[0], r[1], _sort_key(r[2])))
    stores = {
        name: sorted((list(r) for r in rows), key=_sort_key)
        for name, rows in result.get("stores", {}).items()
    }
    error = result.get("error")
    where = None if error is None else error.split(":", 1)[0]
    return {"outputs": outputs, "stores": stores, "error_at": where}


def differences(case: dict[str, Any], kafka: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Sentences describing each difference; empty when the two sides agree."""
    sc = load_all()[case["scenario"]]
    k, o = normalize(kafka, sc.order, sc.headers), normalize(ours, sc.order, sc.headers)
    diffs: list[str] = []
    if k["error_at"] != o["error_at"]:
        diffs.append(f"error: Kafka {kafka.get('error')!r}, streamz_kit {ours.get('error')!r}")
    if k["outputs"] != o["outputs"]:
        first = next(
            (i for i, (a, b) in enumerate(zip(k["outputs"], o["outputs"])) if a != b),
            min(len(k["outputs"]), len(o["outputs"])),
        )
        diffs.append(
            f"outputs differ from row {first} (rows are [step, topic, key, value, ts, headers]):"
            f"\n  Kafka:      {k['outputs'][first : first + 4]}"
            f"\n  streamz_kit: {o['outputs'][first : first + 4]}"
            f"\n  ({len(k['outputs'])} rows from Kafka, {len(o['outputs'])} from streamz_kit)"
        )
    for name in sorted(set(k["stores"]) | set(o["stores"])):
        if k["stores"].get(name) != o["stores"].get(name):
            diffs.append(
                f"store {name!r}: Kafka {k['stores'].get(name)}, "
                f"streamz_kit {o['stores'].get(name)}"
            )
    return diffs


def regression_test(case: dict[str, Any], kafka: dict[str, Any]) -> str:
    """A pytest function for tests/oracle/test_regressions.py that pins Kafka's answer."""
    keep = {k: v for k, v in case.items() if k != "id"}
    expected = {
        "outputs": kafka.get("outputs", []),
        "stores": kafka.get("stores", {}),
        "error": kafka.get("error"),
    }
    slug = re.sub(r"\W+", "_", case["scenario"])
    body = (
        f"def test_{slug}_regression() -> None:\n"
        f"    check_case(\n"
        f"        {_indent(pprint.pformat(keep, width=88, sort_dicts=False), 8)},\n"
        f"        expected={_indent(pprint.pformat(expected, width=80, sort_dicts=False), 8)},\n"
        f"    )\n"
    )
    return body


def _indent(text: str, n: int) -> str:
    return text.replace("\n", "\n" + " " * n)


def failure_report(case: dict[str, Any], kafka: dict[str, Any], ours: dict[str, Any]) -> str:
    return (
        f"streamz_kit differs from Kafka Streams in scenario {case['scenario']!r}:\n"
        + "\n".join(differences(case, kafka, ours))
        + "\n\nRegression test (paste into tests/oracle/test_regressions.py):\n\n"
        + regression_test(case, kafka)
    )


def check_case(case: dict[str, Any], expected: dict[str, Any]) -> None:
    """Run CASE on streamz_kit and compare with EXPECTED, Kafka Streams' recorded answer."""
    ours = run_python(case)
    diffs = differences(case, expected, ours)
    assert not diffs, "\n".join(diffs)
