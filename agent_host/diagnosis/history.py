"""This target's past, from the incident store: fixes, failures, recurrences — what flap protection
and the facts (`failed_fixes`, `recurrences_4h`, `memory_raised_before`) need."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent_host.incidents.model import Incident
from agent_host.incidents.store import FixRecord, IncidentStore
from agent_host.settings import FlapSettings

MEMORY_SOLUTIONS = ("raise-memory-limit",)


async def target_history(
    store: IncidentStore, incident: Incident, flap: FlapSettings, now: datetime
) -> tuple[list[FixRecord], dict[str, Any]]:
    fixes = [f for f in await store.fixes_for(incident.target_key) if f.incident_id != incident.id]
    since = now - timedelta(seconds=flap.recurrence_window_s)
    recurrences = await store.count_since(incident.target_key, since)
    failed = 0
    for fix in fixes:
        if fix.outcome == "worked":
            break
        failed += 1
    window = now - timedelta(hours=24)
    return fixes, {
        "failed_fixes": failed,
        "recurrences": recurrences,
        "memory_raised_before": any(f.solution in MEMORY_SOLUTIONS and f.at >= window for f in fixes),
    }
