"""A post-mortem of any incident from memory: its record (the incident store), what the target's
past fixes teach the next decision (diagnosis/feedback.py), and the most similar past incidents
with how each ended (the knowledge base). Used by `memory show` and the memory MCP resource."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from agent_host.diagnosis.feedback import lessons_from
from agent_host.incidents.report import post_mortem
from agent_host.incidents.store import IncidentStore, incident_summary
from mcp_server.redaction import redact_text


async def memory_post_mortem(
    memory: Any, store: IncidentStore, incident_id: str
) -> tuple[str, dict[str, Any]] | None:
    """(text, data) for `incident_id`, or None when the store does not know it."""
    incident = await store.get(incident_id)
    if incident is None:
        return None
    lessons = lessons_from(await store.fixes_for(incident.target_key))
    similar = await memory.similar(incident, n=3)
    lines = [post_mortem(incident), "What this target's past fixes teach the next decision:"]
    lines += [
        f"  {lesson.solution}: "
        + (
            f"worked {lesson.worked}× in a row"
            if lesson.worked
            else f"failed {lesson.failed}× since it last worked"
        )
        + f" (last {lesson.last_incident})"
        for lesson in lessons.values()
    ] or ["  (no fix recorded for this target)"]
    lines.append("Most similar past incidents (incident memory):")
    lines += [
        f"  {s.incident_id} similarity {s.similarity:.2f}{' (same service)' if s.same_service else ''}: "
        f"{s.kind} on {s.service or s.app_name}, {s.solution or 'no fix'} → {s.outcome_kind}"
        + (f" in {s.recover_s:.0f} s" if s.recover_s is not None and s.recover_s >= 0 else "")
        for s in similar
    ] or ["  (none)"]
    data = {
        "incident": incident_summary(incident),
        "lessons": [asdict(lesson) for lesson in lessons.values()],
        "similar": [asdict(s) for s in similar],
    }
    return "\n".join(redact_text(line) for line in lines), data
