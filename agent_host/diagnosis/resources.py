"""The resource history of a closed incident's target, kept with the incident.

The server's watcher keeps memory and CPU samples for 30 minutes only; the dashboard's plot of
memory and CPU against the limit around an incident must still work days later. So when an
incident closes, its target's history from 10 minutes before it opened (at most the last hour)
is read once with the server's read-only `stats_history` tool and stored, bounded, in
`incident.context["_resources"]`:

    {"containers": [{container, service, memory_limit_bytes, memory_limit_set, cpu_limit_cpus,
                     samples: [{at, memory_used_bytes, cpu_percent}]}],
     "notes": [...], "minutes": 23.5, "read_at": "2026-...Z"}

A failed read is logged and never stops the close.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agent_host.incidents.model import Incident

if TYPE_CHECKING:  # the loop imports this module: no import of the loop at run time
    from agent_host.loop.ports import ToolCaller

log = logging.getLogger(__name__)

CONTEXT_KEY = "_resources"
LEAD_MINUTES = 10.0  # the plot starts this long before the incident opened
MAX_MINUTES = 60.0
MAX_POINTS = 240  # per container
MAX_CONTAINERS = 4
READ_TIMEOUT_S = 30.0


def window_minutes(incident: Incident, now: datetime) -> float:
    """From LEAD_MINUTES before the incident opened until now, at most MAX_MINUTES."""
    open_for = (now - incident.opened_at).total_seconds() / 60.0
    return round(min(MAX_MINUTES, max(open_for, 0.0) + LEAD_MINUTES), 1)


async def snapshot_resources(
    link: ToolCaller, incident: Incident, now: datetime | None = None
) -> dict[str, Any] | None:
    """The target's memory and CPU history (bounded), or None when the incident names no app or
    the read failed (logged; the caller stores nothing and may try again on a later save)."""
    app_name = incident.target.get("app_name")
    if not app_name:
        return None  # a domain or host incident: no containers to plot
    read_at = now or datetime.now(UTC)
    minutes = window_minutes(incident, read_at)
    arguments: dict[str, Any] = {"app_name": app_name, "minutes": minutes}
    if incident.target.get("service"):
        arguments["service"] = incident.target["service"]
    if incident.target.get("host"):
        arguments["host"] = incident.target["host"]
    try:
        answer = await link.call_tool("stats_history", arguments, timeout_s=READ_TIMEOUT_S)
    except Exception as exc:  # the close goes on whatever the link does
        log.warning("incident %s: could not read the resource history of %s: %s", incident.id, app_name, exc)
        return None
    if not answer.ok or not isinstance(answer.structured, dict):
        log.warning(
            "incident %s: stats_history for %s failed: %s", incident.id, app_name, answer.error or answer.text
        )
        return None
    return bounded(answer.structured, minutes, read_at)


def bounded(result: dict[str, Any], minutes: float, read_at: datetime) -> dict[str, Any]:
    """The tool's answer cut to MAX_CONTAINERS containers of at most MAX_POINTS samples each."""
    rows = [r for r in result.get("containers") or [] if isinstance(r, dict)]
    notes = [str(n) for n in result.get("notes") or []]
    if len(rows) > MAX_CONTAINERS:
        notes.append(f"{len(rows) - MAX_CONTAINERS} more containers not kept")
    containers = [
        {**row, "samples": thinned([s for s in row.get("samples") or [] if isinstance(s, dict)])}
        for row in rows[:MAX_CONTAINERS]
    ]
    return {
        "containers": containers,
        "notes": notes,
        "minutes": minutes,
        "read_at": read_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def thinned(samples: list[dict[str, Any]], limit: int = MAX_POINTS) -> list[dict[str, Any]]:
    """At most `limit` samples, oldest first; each bucket of consecutive samples keeps the one of
    highest memory (a spike before an OOM kill stays in the plot)."""
    if len(samples) <= limit:
        return samples
    return [
        max(
            samples[i * len(samples) // limit : (i + 1) * len(samples) // limit],
            key=lambda s: int(s.get("memory_used_bytes") or 0),
        )
        for i in range(limit)
    ]
