"""`streamz-kit reset`: make the next run replay the inputs from offset zero.

Steps (listed first, done only with --yes): refuse while a worker is running; set the
group's committed offsets on the input topics to the earliest offsets; delete the
internal topics (repartition and changelog); delete the local state directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from streamz_kit.errors import StreamzError
from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicPartition


async def reset_application(app: Any, *, execute: bool, echo: Callable[[str], Any]) -> None:
    config = app.config
    topology = app.topology
    transport = connect(config.broker, **config.client_config)
    await transport.start()
    try:
        admin = transport.admin()
        if await admin.group_is_active(config.application_id):
            raise StreamzError(
                f"A worker of application {config.application_id!r} is running on "
                f"{config.broker}; stop every worker first, then run reset again."
            )
        inputs = [
            t
            for t in topology.user_source_topics
            if t not in {g.topic for g in topology.graph.global_stores.values()}
        ]
        counts = await admin.partition_counts(inputs)
        tps = [TopicPartition(t, p) for t in inputs if t in counts for p in range(counts[t])]
        earliest = await admin.list_offsets(tps, "earliest") if tps else {}
        existing = set(await admin.list_topics())
        internal = [config.internal_topic(t) for t in topology.repartition_topics]
        internal += [config.changelog_topic(s) for s in topology.store_names]
        internal = [t for t in internal if t in existing]
        state = config.app_state_dir
        verb = "Resetting" if execute else "Would reset (dry run; pass --yes to do it)"
        echo(f"{verb} application {config.application_id!r} on {config.broker}:")
        echo(f"  input offsets to earliest: {', '.join(inputs) or 'none'}")
        echo(f"  delete internal topics: {', '.join(internal) or 'none'}")
        echo(f"  delete local state: {state}{'' if state.exists() else ' (absent)'}")
        if not execute:
            return
        if tps:
            await admin.alter_group_offsets(config.application_id, earliest)
        if internal:
            await admin.delete_topics(internal)
        shutil.rmtree(state, ignore_errors=True)
        echo("Done. The next run rebuilds all state from the inputs.")
    finally:
        await transport.close()
