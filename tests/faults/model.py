"""The crash suite's data and its plain-Python reference: what the topology must produce."""

from __future__ import annotations

from collections import Counter
from typing import Any

USERS = 500
REGIONS = 10

Totals = dict[str, int]


def order(seq: int) -> tuple[str, dict[str, Any]]:
    """Order `seq`: keyed by order id, spread over users so every partition gets work."""
    user = f"u{(seq * 7919) % USERS}"
    return f"o{seq}", {"seq": seq, "user": user, "amount": (seq * 31) % 97 + 1}


def orders(start: int, n: int) -> list[tuple[str, dict[str, Any]]]:
    return [order(i) for i in range(start, start + n)]


def region_of(user: str) -> str:
    return f"r{int(user[1:]) % REGIONS}"


def enrich(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": v["seq"],
        "user": v["user"],
        "region": region_of(v["user"]),
        "amount": v["amount"],
    }


TIERS = ("gold", "silver", "bronze")


def profiles() -> list[tuple[str, dict[str, Any]]]:
    """One profile per user; the table side of the join, loaded before any order."""
    return [(f"u{u}", {"tier": TIERS[u % len(TIERS)]}) for u in range(USERS)]


def join_profile(v: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    return {"seq": v["seq"], "tier": profile["tier"]}


def empty_totals() -> Totals:
    return {"n": 0, "sum": 0}


def add_order(user: str, v: dict[str, Any], agg: Totals) -> Totals:
    return {"n": agg["n"] + 1, "sum": agg["sum"] + v["amount"]}


def plus_totals(region: str, v: Totals, agg: Totals) -> Totals:
    return {"n": agg["n"] + v["n"], "sum": agg["sum"] + v["sum"]}


def minus_totals(region: str, v: Totals, agg: Totals) -> Totals:
    return {"n": agg["n"] - v["n"], "sum": agg["sum"] - v["sum"]}


class Reference:
    """Every output and table the topology must end with after `n` orders."""

    def __init__(self, n: int) -> None:
        self.user_totals: dict[str, Totals] = {}
        tiers = dict(profiles())
        self.joined: Counter[tuple[str, int, str]] = Counter(
            (v["user"], v["seq"], tiers[v["user"]]["tier"]) for _, v in orders(0, n)
        )
        for seq in range(n):
            _, v = order(seq)
            self.user_totals[v["user"]] = add_order(
                v["user"], v, self.user_totals.get(v["user"], empty_totals())
            )
        self.region_totals: dict[str, Totals] = {}
        for user, totals in self.user_totals.items():
            region = region_of(user)
            self.region_totals[region] = plus_totals(
                region, totals, self.region_totals.get(region, empty_totals())
            )
