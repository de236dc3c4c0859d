"""The recommendations topology, built by `build_topology()` (app.py, the demo and the tests).

    user-actions ─► filter(valid) ─┬─► group_by_key ─► aggregate(user-profiles) ─► to_stream
                                   │      ─► map(recommend) ─► recommendations
                                   └─► group_by(category) ─► [repartition] ─► aggregate(category-trends)
                                          ─► to_stream ─► map_values(top 5) ─► trending

Sub-topology 0 reads `user-actions` (keyed by user, so `group_by_key` needs no repartition);
re-keying by category for the trends goes through a repartition topic into sub-topology 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import streamz_kit as sk
from streamz_kit import serdes

if __package__:
    from . import domain
else:  # run as a script, or loaded by path (`streamz-kit run examples/recommendations/app.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import domain  # type: ignore[no-redef]

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


def build_topology(
    catalogue: domain.Catalogue | None = None,
    *,
    n: int = 5,
    with_trends: bool = True,
    with_windowed_trends: bool = True,
) -> sk.Topology:
    """The topology, built fresh each call (tests and the App each get their own)."""
    cat = catalogue if catalogue is not None else domain.make_catalogue(CATALOGUE_SEED)
    builder = sk.StreamsBuilder()
    actions = builder.stream(
        INPUT_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON
    ).filter(lambda user, action: user is not None and domain.is_valid_action(action))

    profiles = actions.group_by_key().aggregate(
        initializer=domain.new_profile,
        aggregator=lambda user, action, profile: domain.update_profile(profile, action),
        # No record cache on the profiles: every profile change yields its recommendations
        # at once (the trend tables below keep theirs, so a hot category is summarised
        # once per commit, not once per action).
        materialized=sk.Materialized(PROFILE_STORE, key_serde=serdes.STRING,
                                     value_serde=serdes.JSON, caching=False),
    )

    def to_recommendation(user: str, profile: Any) -> domain.Recommendation:
        return domain.recommend(user, profile, cat, n=n)

    recommendations = profiles.to_stream().map_values(to_recommendation, with_key=True)
    recommendations.to(OUTPUT_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON)
    # Kept as a table too, so `GET /stores/user-recommendations/<user>` answers over HTTP.
    recommendations.to_table(
        materialized=sk.Materialized(RECOMMENDATION_STORE, key_serde=serdes.STRING,
                                     value_serde=serdes.JSON)
    )

    if with_trends:
        trends = actions.group_by(
            lambda user, action: action["category"],
            key_serde=serdes.STRING, value_serde=serdes.JSON,
        ).aggregate(
            initializer=dict,
            aggregator=lambda category, action, trend: domain.update_trend(trend, action),
            materialized=sk.Materialized(TRENDS_STORE, key_serde=serdes.STRING,
                                         value_serde=serdes.JSON),
        )
        trends.to_stream().map_values(lambda trend: domain.top_trending(trend)).to(
            TRENDS_TOPIC, key_serde=serdes.STRING, value_serde=serdes.JSON
        )
    if with_windowed_trends:
        windowed = actions.group_by(
            lambda user, action: action["category"],
            key_serde=serdes.STRING, value_serde=serdes.JSON,
        ).windowed_by(TREND_WINDOW).aggregate(
            initializer=dict,
            aggregator=lambda category, action, trend: domain.update_trend(trend, action),
            materialized=sk.Materialized(WINDOWED_TRENDS_STORE, key_serde=serdes.STRING,
                                         value_serde=serdes.JSON),
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
