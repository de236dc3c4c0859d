"""The recommendations example with its async scoring step: the topology awaits a local
model server (5-50 ms per call) for every recommendation, under exactly_once, on the
embedded broker. Every recommendation comes out once, scored, in each user's order."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

import streamz_kit as sk
from examples.recommendations import domain, pipeline
from examples.recommendations.generator import produce_actions
from examples.recommendations.scoring_service import ScoringService, expected
from examples.recommendations.viewer import tail
from streamz_kit import serdes

CATALOGUE = domain.make_catalogue(pipeline.CATALOGUE_SEED)


def test_async_scoring_keeps_per_user_order_and_scores_each_recommendation_once(
    tmp_path: Path,
) -> None:
    broker = f"embedded://{tmp_path / 'broker'}"

    async def scenario(service: ScoringService) -> None:
        await produce_actions(broker, count=0)  # creates the topics
        app = sk.App(
            pipeline.build_topology(
                with_trends=False, with_windowed_trends=False, scoring_url=service.url
            ),
            application_id=pipeline.APPLICATION_ID,
            broker=broker,
            state_dir=str(tmp_path / "state"),
            processing_guarantee="exactly_once",
        )
        await app.start()
        try:
            assert await produce_actions(broker, count=400, rate=0, users=40, seed=9) == 400
            actions: list[Any] = []
            await tail(
                broker,
                pipeline.INPUT_TOPIC,
                lambda r: actions.append(serdes.JSON.deserialize("", r.value)),
                from_beginning=True,
                max_records=400,
                idle_timeout=5,
            )
            # The reference: one recommendation per valid action (the profiles have no
            # record cache), scored by the model, in the order of that user's actions.
            reference: dict[str, list[Any]] = {}
            profiles: dict[str, Any] = {}
            for a in actions:
                if a.get("user") is None or not domain.is_valid_action(a):
                    continue
                user = a["user"]
                profiles[user] = domain.update_profile(profiles.get(user, domain.new_profile()), a)
                reference.setdefault(user, []).append(
                    expected(dict(domain.recommend(user, profiles[user], CATALOGUE)))
                )
            total = sum(len(v) for v in reference.values())

            seen: dict[str, list[Any]] = {}
            done = asyncio.Event()

            def see(record: Any) -> None:
                user = serdes.STRING.deserialize("", record.key)
                seen.setdefault(user, []).append(serdes.JSON.deserialize("", record.value))
                if sum(len(v) for v in seen.values()) >= total:
                    done.set()

            await asyncio.wait_for(
                tail(broker, pipeline.OUTPUT_TOPIC, see, from_beginning=True, stop=done), timeout=20
            )
        finally:
            await app.stop()
        # Everything committed, read again after the worker stopped: a duplicate would show.
        seen.clear()
        await tail(broker, pipeline.OUTPUT_TOPIC, see, from_beginning=True, idle_timeout=1)
        for user, recs in reference.items():
            got = seen.get(user, [])
            # Per-user order: the action count rises 1, 2, 3, ... with no gap or repeat.
            assert [r["actions"] for r in got] == list(range(1, len(recs) + 1)), user
            assert got == recs, user  # each one scored (re-ranked by the model's scores)
        assert set(seen) == set(reference)
        # Every output went through the service; no call for anything that did not come out.
        assert set(service.scored) == {(u, r["actions"]) for u, recs in seen.items() for r in recs}
        assert service.calls >= total

    with ScoringService(seed=1) as service:
        asyncio.run(scenario(service))
