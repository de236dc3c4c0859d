"""The one results table (terminal and markdown) and the target checks under it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PEER_NAMES = ("quixstreams", "faust")


@dataclass
class Row:
    workload: str
    broker: str
    guarantee: str
    sk: dict[str, Any] | None = None          # runner result + "check"
    peers: dict[str, dict[str, Any] | str] = field(default_factory=dict)  # result or reason
    latency: dict[str, Any] | None = None
    note: str = ""


def _rate(result: dict[str, Any] | str | None) -> str:
    if result is None:
        return "—"
    if isinstance(result, str):
        return result
    if result.get("error"):
        return f"failed: {result['error'][:60]}"
    check = result.get("check", "ok")
    rate = f"{result.get('rate', 0):,.0f}"
    return rate if check == "ok" else f"{rate} ({check[:70]})"


def _ok_rate(result: dict[str, Any] | str | None) -> float | None:
    if not isinstance(result, dict) or result.get("check") != "ok" or result.get("error"):
        return None
    return float(result.get("rate") or 0) or None


def _mb(result: dict[str, Any] | str | None) -> str:
    if isinstance(result, dict) and result.get("peak_rss_kb"):
        return f"{result['peak_rss_kb'] / 1024:.0f}"
    return "—"


HEADER = ["workload", "broker", "guarantee", "streamz_kit rec/s", "quixstreams rec/s",
          "faust rec/s", "×quix", "×faust", "peak RSS MB (sk/quix/faust)", "p50 / p99 ms",
          "sk output check"]


def cells(row: Row) -> list[str]:
    sk_rate = _ok_rate(row.sk)
    ratios = []
    for peer in PEER_NAMES:
        peer_rate = _ok_rate(row.peers.get(peer))
        ratios.append(f"{sk_rate / peer_rate:.1f}×" if sk_rate and peer_rate else "—")
    lat = row.latency
    latency = f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f}" if lat and lat.get("measured") else "—"
    rss = "/".join([_mb(row.sk if row.sk else row.latency)] + [_mb(row.peers.get(p)) for p in PEER_NAMES])
    check = "—"
    if row.sk is not None:
        check = row.sk.get("check", "—")
    elif lat is not None:
        check = f"{lat.get('outputs', 0)} outputs"
    return [
        row.workload, row.broker, row.guarantee, _rate(row.sk) if row.sk else "—",
        _rate(row.peers.get("quixstreams")), _rate(row.peers.get("faust")), *ratios, rss,
        latency, check,
    ]


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells(row)) + " |")
    return "\n".join(lines)


def text(rows: list[Row]) -> str:
    table = [HEADER] + [cells(r) for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    out = []
    for n, r in enumerate(table):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def find(rows: list[Row], workload: str, broker: str, guarantee: str) -> Row | None:
    for r in rows:
        if (r.workload, r.broker, r.guarantee) == (workload, broker, guarantee) and r.sk:
            return r
    return None


def targets(rows: list[Row], ceilings: dict[str, float] | None) -> list[str]:
    """The issue's targets, each with the measured figure and met / missed by how much."""
    out: list[str] = []

    def verdict(name: str, got: float | None, want: float, unit: str = "×") -> None:
        if got is None:
            out.append(f"- {name}: not measured")
            return
        status = "met" if got >= want else f"MISSED (by {(want - got) / want:.0%})"
        out.append(f"- {name}: {got:.2f}{unit} (target ≥ {want:g}{unit}) — {status}")

    for w in ("W1", "W2"):
        row = find(rows, w, "tansu", "at_least_once")
        sk = _ok_rate(row.sk) if row else None
        for peer, want in (("quixstreams", 3.0), ("faust", 10.0)):
            peer_rate = _ok_rate(row.peers.get(peer)) if row else None
            verdict(f"{w} on Tansu vs {peer}", sk / peer_rate if sk and peer_rate else None, want)
    row = find(rows, "W1", "tansu", "at_least_once")
    ceiling = (ceilings or {}).get("consume_produce")
    sk = _ok_rate(row.sk) if row else None
    verdict("W1 on Tansu / raw consume-then-produce ceiling",
            sk / ceiling if sk and ceiling else None, 0.40)
    eos, alos = find(rows, "W2", "embedded", "exactly_once"), find(rows, "W2", "embedded", "at_least_once")
    a, e = (_ok_rate(alos.sk) if alos else None), (_ok_rate(eos.sk) if eos else None)
    verdict("W2 embedded exactly_once / at_least_once (default commit intervals: 100 ms / 30 s)",
            e / a if a and e else None, 0.85)
    same = find(rows, "W2 (commit 100 ms)", "embedded", "at_least_once")
    s100 = _ok_rate(same.sk) if same else None
    if s100:
        verdict("W2 embedded exactly_once / at_least_once, both committing every 100 ms",
                e / s100 if e else None, 0.85)
    for r in rows:
        if r.latency and r.latency.get("measured"):
            p99 = r.latency["p99_ms"]
            status = "met" if p99 < 20 else f"MISSED (by {p99 - 20:.0f} ms)"
            out.append(f"- W4 p99 latency, {r.guarantee}, {r.note}: {p99:.0f} ms (target < 20 ms) — {status}")
    return out


def ceilings_lines(ceilings: dict[str, float] | None) -> list[str]:
    if not ceilings:
        return ["- raw aiokafka ceilings: not measured"]
    return [
        f"- raw aiokafka consume on Tansu: {ceilings['consume']:,.0f} records/s",
        f"- raw aiokafka batch produce on Tansu: {ceilings['produce']:,.0f} records/s",
        f"- raw aiokafka consume-then-produce on Tansu: {ceilings['consume_produce']:,.0f} records/s",
    ]
