"""The recommendation domain, free of any streaming: plain functions over JSON-friendly dicts.

Everything the topology does to a record is one of these functions, so the same code is
unit-tested here, run by the worker, and used as the reference model in the tests.

- `make_catalogue(seed)`: items with categories and a Zipf-skewed popularity, the same on
  every machine for the same seed (the generator and the worker both build it; no topic
  needed to share it).
- `update_profile(profile, action)`: fold one user action into the user's profile.
- `recommend(user, profile, catalogue)`: the top items for that profile.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, cast

__all__ = [
    "ACTION_KINDS",
    "ACTION_WEIGHTS",
    "CATEGORIES",
    "RECENT_LIMIT",
    "Action",
    "Catalogue",
    "CatalogueEntry",
    "Interaction",
    "Item",
    "Profile",
    "Recommendation",
    "add_correction",
    "catalogue_entry",
    "categorise",
    "favourite_categories",
    "interaction_key",
    "is_valid_action",
    "make_catalogue",
    "new_profile",
    "recommend",
    "recommend_live",
    "top_trending",
    "update_interaction",
    "update_profile",
    "update_trend",
]

ActionKind = Literal["view", "like", "purchase", "skip"]

# Integers keep affinities exact through JSON and make any order of equal updates agree.
ACTION_WEIGHTS: dict[str, int] = {"view": 1, "like": 3, "purchase": 5, "skip": -2}
ACTION_KINDS: tuple[str, ...] = tuple(ACTION_WEIGHTS)
RECENT_LIMIT = 10

CATEGORIES: tuple[str, ...] = (
    "books",
    "music",
    "movies",
    "games",
    "garden",
    "kitchen",
    "sports",
    "toys",
)


class Action(TypedDict):
    """One user action, as the generator writes it to `user-actions` (keyed by user)."""

    user: str
    item: str
    category: str
    kind: ActionKind
    ts: int  # wall-clock ms at which the action happened (also the record timestamp)


class Profile(TypedDict):
    """A user's running profile: the value of the `user-profiles` store."""

    affinity: dict[str, int]  # category -> sum of action weights
    recent: list[str]  # item ids, most recent first, at most RECENT_LIMIT
    purchased: list[str]  # sorted item ids (a set, kept as a list for JSON)
    counts: dict[str, int]  # action kind -> how many
    actions: int
    last_ts: int


class ScoredItem(TypedDict):
    item: str
    category: str
    score: float


class Recommendation(TypedDict):
    """What the topology writes to `recommendations` (keyed by user)."""

    user: str
    items: list[ScoredItem]
    categories: list[str]
    actions: int
    as_of: int  # timestamp of the action that produced this recommendation


@dataclass(frozen=True)
class Item:
    id: str
    category: str
    popularity: float  # in (0, 1]; the most popular item has 1.0


@dataclass(frozen=True)
class Catalogue:
    """Items by id, and each category's item ids ordered best first (popularity, then id)."""

    items: Mapping[str, Item]
    by_category: Mapping[str, tuple[str, ...]] = field(repr=False)

    @property
    def categories(self) -> list[str]:
        return sorted(self.by_category)


def make_catalogue(
    seed: int = 7,
    n_items: int = 400,
    categories: tuple[str, ...] = CATEGORIES,
    zipf_s: float = 1.07,
) -> Catalogue:
    """A catalogue that is a pure function of its arguments.

    Popularity follows Zipf over a seeded random ranking, so a few items dominate the way
    real catalogues do; it is rounded so it prints and serializes identically everywhere.
    """
    if n_items < 1 or not categories:
        raise ValueError("A catalogue needs at least one item and one category.")
    rng = random.Random(seed)
    ranks = list(range(n_items))
    rng.shuffle(ranks)
    items: dict[str, Item] = {}
    for i in range(n_items):
        item_id = f"item-{i:04d}"
        category = categories[rng.randrange(len(categories))]
        popularity = round(1.0 / (ranks[i] + 1) ** zipf_s, 6)
        items[item_id] = Item(item_id, category, max(popularity, 1e-6))
    grouped: dict[str, list[Item]] = {c: [] for c in categories}
    for item in items.values():
        grouped[item.category].append(item)
    by_category = {
        c: tuple(it.id for it in sorted(its, key=lambda it: (-it.popularity, it.id)))
        for c, its in grouped.items()
    }
    return Catalogue(items=items, by_category=by_category)


def is_valid_action(value: Any) -> bool:
    """True for a record the topology can fold into a profile; the rest are dropped."""
    if not isinstance(value, dict):
        return False
    return (
        value.get("kind") in ACTION_WEIGHTS
        and isinstance(value.get("item"), str)
        and isinstance(value.get("category"), str)
        and isinstance(value.get("ts"), int)
    )


def new_profile() -> Profile:
    """The aggregation's initializer: an empty profile."""
    return {"affinity": {}, "recent": [], "purchased": [], "counts": {}, "actions": 0, "last_ts": 0}


def update_profile(profile: Mapping[str, Any], action: Mapping[str, Any]) -> Profile:
    """Return the profile with `action` folded in; the input is not modified.

    Weights rank intent (view < like < purchase; a skip counts against the category).
    `recent` is bounded so a profile stays small however long a user is active; the
    purchased set is not, because recommending an item already bought is the one mistake
    users notice.
    """
    kind = action["kind"]
    if kind not in ACTION_WEIGHTS:
        raise ValueError(f"Unknown action kind {kind!r}; expected one of {ACTION_KINDS}.")
    item, category = action["item"], action["category"]
    affinity = dict(profile.get("affinity", {}))
    affinity[category] = affinity.get(category, 0) + ACTION_WEIGHTS[kind]
    recent = [item] + [i for i in profile.get("recent", []) if i != item]
    purchased = list(profile.get("purchased", []))
    if kind == "purchase" and item not in purchased:
        purchased.append(item)
        purchased.sort()
    counts = dict(profile.get("counts", {}))
    counts[kind] = counts.get(kind, 0) + 1
    return {
        "affinity": affinity,
        "recent": recent[:RECENT_LIMIT],
        "purchased": purchased,
        "counts": counts,
        "actions": int(profile.get("actions", 0)) + 1,
        "last_ts": max(int(profile.get("last_ts", 0)), int(action["ts"])),
    }


def favourite_categories(profile: Mapping[str, Any], k: int = 3) -> list[str]:
    """The user's top-k categories with positive affinity; ties broken by name."""
    affinity: Mapping[str, int] = profile.get("affinity", {})
    ranked = sorted((c for c, a in affinity.items() if a > 0), key=lambda c: (-affinity[c], c))
    return ranked[:k]


def recommend(
    user: str,
    profile: Mapping[str, Any],
    catalogue: Catalogue,
    n: int = 5,
    top_categories: int = 3,
) -> Recommendation:
    """Top-n unbought items from the user's favourite categories, by affinity x popularity.

    Within a category the score is proportional to popularity, and `by_category` is
    already in that order, so only the first n unbought items of each favourite category
    can make the list: the work is O(n x categories), not O(catalogue).
    Ties go to the smaller item id, so the answer never depends on dict order.
    """
    favourites = favourite_categories(profile, top_categories)
    purchased = set(profile.get("purchased", ()))
    affinity: Mapping[str, int] = profile.get("affinity", {})
    candidates: list[tuple[float, str, str]] = []
    for category in favourites:
        taken = 0
        for item_id in catalogue.by_category.get(category, ()):
            if taken >= n:
                break
            if item_id in purchased:
                continue
            score = affinity[category] * catalogue.items[item_id].popularity
            candidates.append((score, item_id, category))
            taken += 1
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return {
        "user": user,
        "items": [
            {"item": item_id, "category": category, "score": round(score, 4)}
            for score, item_id, category in candidates[:n]
        ],
        "categories": favourites,
        "actions": int(profile.get("actions", 0)),
        "as_of": int(profile.get("last_ts", 0)),
    }


# -- trending items per category (the second aggregation) -----------------------------------
TREND_WEIGHTS: dict[str, int] = {"view": 1, "like": 2, "purchase": 4, "skip": 0}


def update_trend(trend: Mapping[str, int], action: Mapping[str, Any]) -> dict[str, int]:
    """Add one action's weight to its item's score within the category's trend table."""
    weight = TREND_WEIGHTS.get(cast(str, action.get("kind")), 0)
    out = dict(trend)
    if weight:
        out[action["item"]] = out.get(action["item"], 0) + weight
    return out


def top_trending(trend: Mapping[str, int], n: int = 5) -> list[list[Any]]:
    """The n highest-scoring items as [item, score] pairs, ties to the smaller id."""
    ranked = sorted(trend.items(), key=lambda kv: (-kv[1], kv[0]))
    return [[item, score] for item, score in ranked[:n]]


# -- live categories: the item catalogue as a table, reached by a foreign-key join ----------
class CatalogueEntry(TypedDict):
    """A record of the `item-catalogue` topic (keyed by item id): the live catalogue."""

    category: str
    popularity: float


class Interaction(TypedDict, total=False):
    """One user's running weight on one item (keyed `user|item`): `category` is the one its
    actions carry, `live_category` the catalogue's, filled in by the foreign-key join."""

    user: str
    item: str
    category: str
    live_category: str
    weight: int


def catalogue_entry(item: Item) -> CatalogueEntry:
    return {"category": item.category, "popularity": item.popularity}


def interaction_key(user: str, action: Mapping[str, Any]) -> str:
    return f"{user}|{action['item']}"


def update_interaction(
    key: str, action: Mapping[str, Any], interaction: Mapping[str, Any]
) -> Interaction:
    """Fold one action into the user's weight on its item (the same weights as profiles)."""
    item = action["item"]
    return {
        "user": key[: -len(item) - 1],
        "item": item,
        "category": action["category"],
        "weight": int(interaction.get("weight", 0)) + ACTION_WEIGHTS[action["kind"]],
    }


def categorise(interaction: Mapping[str, Any], entry: Mapping[str, Any] | None) -> Interaction:
    """The foreign-key join's joiner: the item's category in the live catalogue (the
    action's own while the catalogue does not know the item)."""
    out = cast(Interaction, dict(interaction))
    out["live_category"] = entry["category"] if entry is not None else interaction["category"]
    return out


def add_correction(
    user: str, interaction: Mapping[str, Any], correction: Mapping[str, Any], sign: int = 1
) -> dict[str, int]:
    """Adder (sign 1) and subtractor (sign -1) of the per-user table aggregation: the weight
    of items the catalogue files under another category than the actions said moves there.
    When the catalogue moves an item, the join re-emits every interaction with it, and this
    aggregation takes the old move back and makes the new one."""
    out = {c: w for c, w in correction.items() if w}
    source = interaction["category"]
    target = interaction.get("live_category", source)
    if source != target:
        weight = sign * int(interaction["weight"])
        out[source] = out.get(source, 0) - weight
        out[target] = out.get(target, 0) + weight
    return {c: w for c, w in out.items() if w}


def recommend_live(
    user: str,
    profile: Mapping[str, Any],
    correction: Mapping[str, int] | None,
    catalogue: Catalogue,
    n: int = 5,
) -> Recommendation:
    """`recommend`, with the profile's affinities corrected by the live catalogue."""
    if not correction:
        return recommend(user, profile, catalogue, n=n)
    affinity = dict(profile.get("affinity", {}))
    for category, weight in correction.items():
        affinity[category] = affinity.get(category, 0) + weight
    return recommend(user, {**profile, "affinity": affinity}, catalogue, n=n)
