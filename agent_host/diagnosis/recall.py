"""Incident memory in the loop: the most similar past incidents go into the evidence, the model's
prompt and the decision record; every closed incident is remembered.

Memory is an index (agent_host/memory/, ChromaDB); the incident store stays the source of truth.
It helps and never blocks: when the index cannot answer, the incident says so and the loop goes
on without it. What it returns holds text that came from containers: data, never instructions
(the prompt fences it)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from agent_host.incidents.model import Incident
from agent_host.memory.documents import query_text

log = logging.getLogger(__name__)

SIMILAR_KEY = "_similar"  # incident.context entry the prompt and the post-mortem read
NOTES_KEY = "_notes"  # the owner's knowledge notes near this incident (the prompt reads them)
NOTES_SEARCHED, NOTES_SHOWN = 8, 2  # runbook notes are dropped from what is searched


async def recall(memory: Any, incident: Incident, count: int) -> list[dict[str, Any]]:
    """The `count` past incidents nearest to this one (same service first), as plain rows; also
    kept in the incident's context. [] (and a note) when memory cannot answer."""
    if memory is None:
        return []
    query = query_text(incident)  # built once: the similar incidents and the notes are searched with it
    try:
        found = await memory.similar(incident, n=count, text=query)
    except Exception as exc:  # memory is an aid: the decision goes on without it, and says so
        incident.note(
            "diagnose", f"incident memory did not answer ({type(exc).__name__}: {exc}); deciding without it"
        )
        return []
    rows = [_row(asdict(item)) for item in found]
    incident.context[SIMILAR_KEY] = {"tool": "incident_memory", "ok": True, "structured": rows}
    await _recall_notes(memory, incident, query)
    return rows


async def _recall_notes(memory: Any, incident: Incident, query: str) -> None:
    """The owner's knowledge notes (`memory note`) closest to this incident's symptoms (`query`),
    for the model's prompt; the runbooks are indexed as notes too, but the model already sees the
    candidates."""
    try:
        found = await memory.search_notes(query, NOTES_SEARCHED)
    except Exception as exc:  # as above: an aid, never a blocker
        incident.note("diagnose", f"knowledge notes not searched ({type(exc).__name__}: {exc})")
        return
    notes = [
        {"note_id": note_id, "similarity": similarity, "text": text}
        for note_id, similarity, text in found
        if not note_id.startswith("runbook:")
    ][:NOTES_SHOWN]
    if notes:
        incident.context[NOTES_KEY] = {"tool": "incident_memory", "ok": True, "structured": notes}


def similar_reason(rows: list[dict[str, Any]]) -> str:
    """One line of the decision record: what memory found and how each of those ended."""
    if not rows:
        return "memory: no similar past incident"
    parts = [
        f"{r['incident_id']} ({r['service'] or r['app_name']}, {r['kind']}, "
        f"{r['solution'] or 'no fix'} {r['outcome_kind']}, similarity {r['similarity']:.2f})"
        for r in rows
    ]
    return "memory: similar past incidents: " + "; ".join(parts)


async def remember(memory: Any, incident: Incident) -> None:
    """Index a closed incident (an upsert: a replayed step writes the same entry)."""
    if memory is None or not incident.closed:
        return
    try:
        await memory.remember(incident)
    except Exception as exc:  # the store keeps it; `memory rebuild` re-indexes it later
        log.warning(
            "incident memory could not index %s (%s: %s); `infraguardian-agent memory rebuild` re-indexes it",
            incident.id,
            type(exc).__name__,
            exc,
        )


def _row(item: dict[str, Any]) -> dict[str, Any]:
    keep = ("incident_id", "similarity", "same_service", "kind", "service", "app_name", "solution",
            "outcome_kind", "recover_s", "opened_at", "summary")  # fmt: skip
    row = {key: item.get(key) for key in keep}
    row["similarity"] = round(float(row["similarity"] or 0.0), 3)
    return row
