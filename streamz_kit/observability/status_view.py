"""`streamz-kit status APP`: what the workers say (status files, --http) and what the
broker says (the group's committed offsets against the end of every input partition)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from streamz_kit.observability.status_file import read_statuses
from streamz_kit.transport import connect
from streamz_kit.transport.port import TopicPartition


def input_topics(app: Any) -> list[str]:
    """Every topic the App's consumer group reads: user sources and repartition topics."""
    config = app.config
    topics: list[str] = []
    for sub in app.topology.subtopologies:
        for topic in sub.source_topics:
            name = config.internal_topic(topic) if topic in sub.internal_sources else topic
            if name not in topics:
                topics.append(name)
    return topics


def fetch_http_status(url: str, timeout: float = 5.0) -> dict[str, Any]:
    target = url.rstrip("/")
    if not target.endswith("/status"):
        target += "/status"
    with urllib.request.urlopen(target, timeout=timeout) as resp:
        snap: dict[str, Any] = orjson.loads(resp.read())
    snap["live"] = True
    snap["age_seconds"] = 0.0
    return snap


async def group_lag(
    app: Any, broker: str, timeout: float = 10.0
) -> tuple[bool, list[dict[str, Any]]]:
    """Whether the group has members, and per input partition: end offset, the group's
    committed offset, and the difference."""
    transport = connect(broker, **app.config.client_config)

    async def go() -> tuple[bool, list[dict[str, Any]]]:
        await transport.start()
        admin = transport.admin()
        active = await admin.group_is_active(app.config.application_id)
        topics = input_topics(app)
        counts = await admin.partition_counts(topics)
        tps = [TopicPartition(t, p) for t in topics for p in range(counts.get(t, 0))]
        if not tps:
            return active, []
        ends = await admin.list_offsets(tps, "latest")
        committed = await admin.committed_offsets(app.config.application_id, tps)
        # The embedded log under `run --workers N`: who holds each partition's lease
        # (member ids read `worker-<i>-<pid>`).
        owners: dict[str, str] = {}
        members = getattr(admin, "group_members", None)
        for member in members(app.config.application_id) if members else []:
            for name in member["partitions"]:
                owners[name] = str(member["member"])
        rows = []
        for tp in tps:
            end = ends.get(tp, 0)
            done = committed.get(tp)
            rows.append(
                {
                    "partition": f"{tp.topic}-{tp.partition}",
                    "end_offset": end,
                    "committed": done,
                    "lag": end - (done or 0) if end >= (done or 0) else 0,
                    "owner": owners.get(f"{tp.topic}-{tp.partition}"),
                }
            )
        return active, rows

    try:
        return await asyncio.wait_for(go(), timeout)
    finally:
        await transport.close()


def gather(app: Any, *, broker: str | None, http: str | None) -> dict[str, Any]:
    """Everything `status` shows, as one JSON-ready dict."""
    state_dir, app_id = Path(app.config.state_dir), app.config.application_id
    # Workers under `run --workers N` keep their state in <state_dir>/worker-<i>.
    workers = read_statuses(state_dir / app_id) + [
        snap for d in sorted(state_dir.glob("worker-*")) for snap in read_statuses(d / app_id)
    ]
    errors: list[str] = []
    if http:
        try:
            snap = fetch_http_status(http)
            workers = [w for w in workers if w.get("pid") != snap.get("pid")] + [snap]
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{http} did not answer: {getattr(exc, 'reason', exc)}")
    partitions: list[dict[str, Any]] | None = None
    group_active: bool | None = None
    url = broker or app.config.broker
    if url.startswith("embedded://") and not Path(url[len("embedded://") :]).exists():
        errors.append(f"The embedded log {url} does not exist yet: nothing has run there.")
    else:
        try:
            group_active, partitions = asyncio.run(group_lag(app, url))
        except Exception as exc:  # an unreachable broker still leaves the workers' view
            errors.append(f"Could not read offsets from {url}: {exc}")
    return {
        "application_id": app.config.application_id,
        "state_dir": str(app.config.app_state_dir),
        "broker": url,
        "workers": workers,
        "live_workers": sum(1 for w in workers if w.get("live")),
        "group_active": group_active,
        "partitions": partitions,
        "errors": errors,
    }


def _stores(stores: dict[str, Any]) -> str:
    return ", ".join(f"{k}={'?' if v is None else f'{v:,}'}" for k, v in stores.items()) or "-"


def _who(w: dict[str, Any]) -> str:
    """`worker 1 (pid 123)` under `run --workers N`, else `pid 123`."""
    index = w.get("worker")
    return f"pid {w['pid']}" if index is None else f"worker {index} (pid {w['pid']})"


def render(report: dict[str, Any], console: Console) -> None:
    app_id = report["application_id"]
    live = [w for w in report["workers"] if w.get("live")]
    stale = [w for w in report["workers"] if not w.get("live")]
    if live:
        console.print(f"[bold]{app_id}[/]: {len(live)} worker(s) running")
    else:
        console.print(
            f"[bold]{app_id}[/]: no worker is running (no fresh status under "
            f"{report['state_dir']}; pass --http URL for a worker on another machine)."
        )
    if report.get("group_active") is not None:
        members = "has members" if report["group_active"] else "has no members"
        console.print(f"  consumer group {app_id} on {report['broker']} {members}")
    for w in stale:
        console.print(
            f"  stale: pid {w.get('pid')} on {w.get('host')}, last seen {w.get('age_seconds')} s "
            f"ago in state {w.get('state')}"
        )
    for w in live:
        ep = w.get("endpoints") or {}
        console.print(
            f"  {_who(w)} on {w['host']}: {w['state']}, "
            f"{w.get('records_processed', 0):,} records ({w.get('records_per_second', 0):,.1f}/s),"
            f" {w.get('commits', 0):,} commits, lag {w.get('total_lag', 0):,}"
            + (f", http {ep['http']}" if ep.get("http") else "")
        )
    if live:
        table = Table(title="Tasks", show_lines=False)
        for col in (
            "worker",
            "task",
            "state",
            "partitions",
            "processed",
            "rec/s",
            "lag",
            "stores (entries)",
            "restore",
        ):
            numeric = col in ("processed", "rec/s", "lag")
            table.add_column(col, justify="right" if numeric else "left")
        for w in live:
            restoring = (w.get("restoration") or {}).get("restoring", {})
            restored = (w.get("restoration") or {}).get("per_task_restored", {})
            for t in w.get("task_details", []):
                tid = t["task_id"]
                if tid in restoring:
                    p = restoring[tid]
                    restore = (
                        f"{p['restored']:,}/{p['total']:,}"
                        if p.get("total") is not None
                        else "restoring"
                    )
                else:
                    restore = f"{restored.get(tid, 0):,} restored"
                table.add_row(
                    _who(w),
                    tid,
                    t.get("state", "?"),
                    " ".join(t.get("partitions", [])),
                    f"{t.get('processed', 0):,}",
                    f"{t.get('records_per_second', 0):,.1f}",
                    f"{t.get('lag', 0):,}",
                    _stores(t.get("stores", {})),
                    restore,
                )
        console.print(table)
    if report["partitions"]:
        table = Table(title=f"Input partitions (group {app_id} on {report['broker']})")
        owned = any(row.get("owner") for row in report["partitions"])
        for col in ("partition", "end offset", "committed", "lag", "owner")[: 5 if owned else 4]:
            table.add_column(col, justify="left" if col in ("partition", "owner") else "right")
        for row in report["partitions"]:
            committed = "-" if row["committed"] is None else f"{row['committed']:,}"
            cells = [row["partition"], f"{row['end_offset']:,}", committed, f"{row['lag']:,}"]
            table.add_row(*cells, *([row.get("owner") or "-"] if owned else []))
        console.print(table)
    for error in report["errors"]:
        console.print(f"[yellow]{error}[/]")
