"""The recommendations topology, built by `build_topology()` (app.py, the demo and the tests).

    user-actions ─► filter(valid) ─┬─► group_by_key ─► aggregate(user-profiles) ─► to_stream
                                   │      ─► left_join(user-category-corrections) ─► recommend
                                   │      ─► recommendations
                                   ├─► group_by(user|item) ─► aggregate(user-item-interactions)
                                   │      ─► left_join(item-catalogue, foreign_key=item)
                                   │      ─► group_by(user) ─► aggregate(user-category-corrections)
                                   └─► group_by(category) ─► [repartition] ─► aggregate(category-trends)
                                          ─► to_stream ─► map_values(top 5) ─► trending

The item catalogue is a real table (`item-catalogue`, keyed by item id): the foreign-key join
gives every (user, item) interaction its item's current category; the per-user table
aggregation keeps how much of a user's weight the catalogue files under other categories
than the actions carried, and moves it again when the catalogue moves an item while the
worker runs. Recommendations add these corrections to the profile's affinities (with the
catalogue agreeing with the actions, they are the profile's own).
Re-keying (by user|item, by user, by category) goes through repartition topics, and the
foreign-key join through its subscription and response topics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes

if __package__:
    from . import domain, schemas
    from .scoring_service import Scorer
else:  # run as a script, or loaded by path (`streamz-kit run examples/recommendations/app.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import domain  # type: ignore[no-redef]
    import schemas  # type: ignore[no-redef]
    from scoring_service import Scorer  # type: ignore[no-redef]

APPLICATION_ID = "recommendations"
INPUT_TOPIC = "user-actions"
OUTPUT_TOPIC = "recommendations"
TRENDS_TOPIC = "trending"
PROFILE_STORE = "user-profiles"
RECOMMENDATION_STORE = "user-recommendations"
TRENDS_STORE = "category-trends"
WINDOWED_TRENDS_TOPIC = "trending-windows"
WINDOWED_TRENDS_STORE = "category-trends-windowed"
# Trending now: the last minute of actions per category, refreshed every 30 seconds.
TREND_WINDOW = sk.TimeWindows.of_size_and_grace(60_000, 5_000).advance_by(30_000)
CATALOGUE_SEED = 7
CATALOGUE_TOPIC = "item-catalogue"
CATALOGUE_STORE = "item-catalogue"
INTERACTIONS_STORE = "user-item-interactions"
CORRECTION_STORE = "user-category-corrections"


def build_topology(
    catalogue: domain.Catalogue | None = None,
    *,
    n: int = 5,
    with_trends: bool = True,
    with_windowed_trends: bool = True,
    registry: sk.SchemaRegistry | None = None,
    scoring_url: str | None = None,
) -> sk.Topology:
    """The topology, built fresh each call (tests and the App each get their own).

    With a `registry`, actions and recommendations are Avro (schemas.py; actions read with
    the newest schema, so older records still read); without one, JSON. With a
    `scoring_url` (scoring_service.py), every recommendation is re-ranked by an awaited
    call to that model server before it is written; without one, the topology is as
    drawn above."""
    cat = catalogue if catalogue is not None else domain.make_catalogue(CATALOGUE_SEED)
    action_values = schemas.action_serde(registry) if registry else serdes.JSON
    recommendation_values = schemas.recommendation_serde(registry) if registry else serdes.JSON
    builder = sk.StreamsBuilder()
    actions = builder.stream(
        INPUT_TOPIC, key_serde=serdes.STRING, value_serde=action_values
    ).filter(lambda user, action: user is not None and domain.is_valid_action(action))

    profiles = actions.group_by_key().aggregate(
        initializer=domain.new_profile,
        aggregator=lambda user, action, profile: domain.update_profile(profile, action),
        # No record cache on the profiles: every profile change yields its recommendations
        # at once (the trend tables below keep theirs, so a hot category is summarised
        # once per commit, not once per action).
        materialized=sk.Materialized(
            PROFILE_STORE, key_serde=serdes.STRING, value_serde=serdes.JSON, caching=False
        ),
    )

    # The live catalogue: a table of the `item-catalogue` topic, keyed by item id. The
    # foreign-key join gives every (user, item) interaction its item's current category;
    # the per-user aggregation keeps how far those categories differ from the ones the
    # actions carried, and moves the weight again whenever the catalogue moves an item.
    json: dict[str, Any] = {"key_serde": serdes.STRING, "value_serde": serdes.JSON}
    catalogue_table = builder.table(
        CATALOGUE_TOPIC, **json, materialized=sk.Materialized(CATALOGUE_STORE, **json)
    )
    interactions = actions.group_by(domain.interaction_key, **json).aggregate(
        initializer=dict,
        aggregator=domain.update_interaction,
        materialized=sk.Materialized(INTERACTIONS_STORE, **json),
    )
    categorised = interactions.left_join(
        catalogue_table, domain.categorise, foreign_key=lambda interaction: interaction["item"]
    )
    corrections = categorised.group_by(
        lambda key, interaction: (interaction["user"], interaction), **json
    ).aggregate(
        initializer=dict,
        adder=domain.add_correction,
        subtractor=lambda user, interaction, agg: domain.add_correction(
            user, interaction, agg, sign=-1
        ),
        materialized=sk.Materialized(CORRECTION_STORE, **json),
    )

    def with_user(user: str, profile: Any) -> Any:
        return (user, profile)

    def to_recommendation(pair: Any, correction: Any) -> domain.Recommendation:
        user, profile = pair
        return domain.recommend_live(user, profile, correction, cat, n=n)

    # One recommendation per profile change, at once (no repartition on this path); the
    # live catalogue's corrections are looked up in their table.
    recommendations = (
        profiles.to_stream()
        .map_values(with_user, with_key=True)
        .left_join(corrections, to_recommendation)
    )
    if scoring_url is not None:
        # The model server's call, awaited per record: up to 32 in flight, a per-user
        # order kept on output, and a commit that waits for the calls it covers, so
        # exactly_once holds with real awaits. A slow or failed call is retried.
        recommendations = recommendations.map_values_async(
            Scorer(scoring_url),
            max_in_flight=32,
            timeout=5.0,
            retries=2,
        )
    recommendations.to(OUTPUT_TOPIC, key_serde=serdes.STRING, value_serde=recommendation_values)
    # Kept as a table too, so `GET /stores/user-recommendations/<user>` answers over HTTP.
    recommendations.to_table(
        materialized=sk.Materialized(
            RECOMMENDATION_STORE, key_serde=serdes.STRING, value_serde=serdes.JSON
        )
    )

    if with_trends:
        trends = actions.group_by(
            lambda user, action: action["category"],
            key_serde=serdes.STRING,
            value_serde=serdes.JSON,
        ).aggregate(
            initializer=dict,
            aggregator=lambda category, action, trend: domain.update_trend(trend, action),
            materialized=sk.Materialized(
                TRENDS_STORE, key_serde=serdes.STRING, value_serde=serdes.JSON
            ),
        )
        trends.to_stream().map_values(lambda trend: domain.top_trending(trend)).to(
            TRENDS_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON
        )
    if with_windowed_trends:
        windowed = (
            actions.group_by(
                lambda user, action: action["category"],
                key_serde=serdes.STRING,
                value_serde=serdes.JSON,
            )
            .windowed_by(TREND_WINDOW)
            .aggregate(
                initializer=dict,
                aggregator=lambda category, action, trend: domain.update_trend(trend, action),
                materialized=sk.Materialized(
                    WINDOWED_TRENDS_STORE, key_serde=serdes.STRING, value_serde=serdes.JSON
                ),
            )
        )
        windowed.to_stream().map(window_summary).to(
            WINDOWED_TRENDS_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON
        )
    return builder.build()


def window_summary(windowed: sk.Windowed[str], trend: Any) -> tuple[str, dict[str, Any]]:
    """One hopping window's top items, keyed `category@window_start`."""
    window = windowed.window
    return f"{windowed.key}@{window.start}", {
        "category": windowed.key,
        "window_start": window.start,
        "window_end": window.end,
        "top": domain.top_trending(trend) if trend is not None else [],
    }
