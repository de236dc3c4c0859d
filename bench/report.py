"""The one results table (terminal and markdown) and the target checks under it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PEER_NAMES = ("kstreams", "quixstreams", "faust")


@dataclass
class Row:
    workload: str
    broker: str
    guarantee: str
    sk: dict[str, Any] | None = None  # runner result + "check"
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
    if result.get("outside_rate"):
        # the harness's own timing of the whole drain, and whether the two agree within 10 %
        cross = result.get("cross_check", "")
        rate += f" [{result['outside_rate']:,.0f}{'' if cross == 'ok' else ' ' + cross}]"
    return rate if check == "ok" else f"{rate} ({check[:70]})"


def _ok_rate(result: dict[str, Any] | str | None, inside: bool = False) -> float | None:
    """The rate a ratio uses: the harness's outside timing of the whole drain when there is
    one (the same clock for every framework, final flush included), else the in-process one."""
    if not isinstance(result, dict) or result.get("check") != "ok" or result.get("error"):
        return None
    if not inside and result.get("outside_rate"):
        return float(result["outside_rate"])
    return float(result.get("rate") or 0) or None


def _mb(result: dict[str, Any] | str | None) -> str:
    if isinstance(result, dict) and result.get("peak_rss_kb"):
        return f"{result['peak_rss_kb'] / 1024:.0f}"
    return "—"


HEADER = [
    "workload",
    "broker",
    "guarantee",
    "streamz_kit rec/s",
    "kstreams rec/s",
    "quixstreams rec/s",
    "faust rec/s",
    "×kstreams",
    "×quix",
    "×faust",
    "peak RSS MB (sk/ks/quix/faust)",
    "p50 / p99 ms",
    "sk output check",
]


def cells(row: Row) -> list[str]:
    sk_rate = _ok_rate(row.sk)
    ratios = []
    for peer in PEER_NAMES:
        peer_rate = _ok_rate(row.peers.get(peer))
        ratios.append(f"{sk_rate / peer_rate:.1f}×" if sk_rate and peer_rate else "—")
    lat = row.latency
    latency = f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f}" if lat and lat.get("measured") else "—"
    rss = "/".join(
        [_mb(row.sk if row.sk else row.latency)] + [_mb(row.peers.get(p)) for p in PEER_NAMES]
    )
    check = "—"
    if row.sk is not None:
        check = row.sk.get("check", "—")
    elif lat is not None:
        check = f"{lat.get('outputs', 0)} outputs"
    return [
        row.workload,
        row.broker,
        row.guarantee,
        _rate(row.sk) if row.sk else "—",
        *(_rate(row.peers.get(p)) for p in PEER_NAMES),
        *ratios,
        rss,
        latency,
        check,
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
    """The issue's targets, each with the measured figure and met / missed by how much.
    Ratios on Kafka use the outside timing of each run (see _ok_rate)."""
    out: list[str] = []

    def verdict(name: str, got: float | None, want: float, unit: str = "×") -> None:
        if got is None:
            out.append(f"- {name}: not measured")
            return
        status = "met" if got >= want else f"MISSED (by {(want - got) / want:.0%})"
        out.append(f"- {name}: {got:.2f}{unit} (target ≥ {want:g}{unit}) — {status}")

    def rate_of(workload: str, broker: str, guarantee: str, who: str = "sk") -> float | None:
        row = find(rows, workload, broker, guarantee)
        if row is None:
            return None
        return _ok_rate(row.sk if who == "sk" else row.peers.get(who))

    ceiling = (ceilings or {}).get("consume_produce")
    # the ceiling is timed from its first batch, so it is compared with the in-process rate
    w1_row = find(rows, "W1", "kafka", "at_least_once")
    w1 = _ok_rate(w1_row.sk, inside=True) if w1_row else None
    verdict(
        "W1 on Kafka (in-process rate) / raw aiokafka consume-then-produce ceiling",
        w1 / ceiling if w1 and ceiling else None,
        0.85,
    )
    hand = (ceilings or {}).get("hand_w1")
    if w1 and hand and ceiling:
        # how much of the gap is the framework (W1 / hand) and how much the workload (hand / ceiling)
        out.append(
            f"- W1 on Kafka / hand-written aiokafka W1: {w1 / hand:.2f}× (reported, no target; "
            f"the hand-written loop itself is {hand / ceiling:.2f}× the ceiling)"
        )
    for w in ("W2", "W3"):
        sk, quix = (
            rate_of(w, "kafka", "at_least_once"),
            rate_of(w, "kafka", "at_least_once", "quixstreams"),
        )
        verdict(f"{w} on Kafka vs Quix Streams", sk / quix if sk and quix else None, 3.0)
    for broker in ("embedded", "kafka"):
        for w in ("W1", "W2", "W3"):
            a, e = rate_of(w, broker, "at_least_once"), rate_of(w, broker, "exactly_once")
            if a or e:
                verdict(
                    f"{w} {broker} exactly_once / at_least_once (default commit intervals: "
                    "100 ms / 30 s)",
                    e / a if a and e else None,
                    0.85,
                )
    same = find(rows, "W2 (commit 100 ms)", "embedded", "at_least_once")
    s100 = _ok_rate(same.sk) if same else None
    e2 = rate_of("W2", "embedded", "exactly_once")
    if s100:
        verdict(
            "W2 embedded exactly_once / at_least_once, both committing every 100 ms",
            e2 / s100 if e2 else None,
            0.85,
        )
    for w in ("W1", "W2", "W3"):
        for g in ("at_least_once", "exactly_once"):
            sk, ks = rate_of(w, "kafka", g), rate_of(w, "kafka", g, "kstreams")
            if sk or ks:
                goal = 0.5 if w in ("W1", "W2") else 0.0
                name = f"{w} on Kafka {g} vs Kafka Streams"
                if goal:
                    verdict(name, sk / ks if sk and ks else None, goal)
                else:
                    out.append(
                        f"- {name}: "
                        + (f"{sk / ks:.2f}× (no target; reported)" if sk and ks else "not measured")
                    )
    w3 = find(rows, "W3", "embedded", "at_least_once")
    if w3 and isinstance(w3.sk, dict) and w3.sk.get("peak_rss_kb"):
        mb = w3.sk["peak_rss_kb"] / 1024
        status = "met" if mb <= 300 else f"MISSED (by {mb - 300:.0f} MB)"
        out.append(
            f"- W3 peak RSS (embedded, at_least_once): {mb:.0f} MB (target ≤ 300 MB) — {status}"
        )
    for r in rows:
        for who, res in [("streamz_kit", r.sk), *r.peers.items()]:
            if isinstance(res, dict) and res.get("cross_check") not in (None, "ok"):
                out.append(
                    f"- cross-check {who} {r.workload} {r.broker} {r.guarantee}: in-process "
                    f"{res.get('rate') or 0:,.0f}/s vs outside {res.get('outside_rate') or 0:,.0f}/s "
                    f"({res.get('cross_check')})"
                )
    for r in rows:
        if r.latency and r.latency.get("measured"):
            p99 = r.latency["p99_ms"]
            # at_least_once: 20 ms end to end; exactly_once: outputs show at the commit, so
            # the commit interval + 20 ms
            limit = 20.0 + (
                float(r.latency.get("commit_ms") or 0) if r.guarantee == "exactly_once" else 0
            )
            status = "met" if p99 <= limit else f"MISSED (by {p99 - limit:.0f} ms)"
            out.append(
                f"- W4 p99 latency, {r.guarantee}, {r.note}: {p99:.0f} ms "
                f"(target ≤ {limit:.0f} ms) — {status}"
            )
    return out


def ceilings_lines(ceilings: dict[str, float] | None) -> list[str]:
    if not ceilings:
        return ["- raw aiokafka ceilings: not measured"]
    return [
        f"- raw aiokafka consume on Kafka: {ceilings['consume']:,.0f} records/s",
        f"- raw aiokafka batch produce on Kafka: {ceilings['produce']:,.0f} records/s",
        f"- raw aiokafka consume-then-produce on Kafka: {ceilings['consume_produce']:,.0f} records/s",
        *(
            [
                "- hand-written W1 on raw aiokafka (W1's JSON work, no framework; reported, not "
                f"a target): {ceilings['hand_w1']:,.0f} records/s"
            ]
            if ceilings.get("hand_w1")
            else []
        ),
    ]
