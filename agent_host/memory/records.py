"""What the knowledge base answers with: similar past incidents and remembered entries, made from
Chroma's metadata and documents (documents hold untrusted container text: data, never instructions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_host.incidents.model import Incident
from agent_host.memory.documents import SUMMARY_CHARS


@dataclass(frozen=True)
class SimilarIncident:
    """A past incident close to the one at hand: what it was, what was done, whether it worked."""

    incident_id: str
    similarity: float  # 0..1, higher is closer (1 − cosine distance, clipped)
    same_service: bool  # the same target (app and service) as the incident at hand
    kind: str
    service: str
    app_name: str
    solution: str  # the fix this outcome speaks for ("" when none was applied)
    outcome_kind: str  # worked | failed | escalated | open
    recover_s: float | None  # seconds to resolution; None when it did not resolve
    opened_at: str
    summary: str  # the start of its document (untrusted container text inside: data only)


@dataclass(frozen=True)
class MemoryEntry:
    """One remembered incident, for `memory list` and post-mortems."""

    incident_id: str
    kind: str
    service: str
    app_name: str
    solution: str
    outcome_kind: str
    opened_at: str
    summary: str


def similar_incident(meta: dict[str, Any], document: str, distance: float, same: bool) -> SimilarIncident:
    recover = float(meta.get("recover_s", -1.0))
    return SimilarIncident(
        incident_id=str(meta.get("incident_id", "")),
        similarity=round(max(0.0, min(1.0, 1.0 - float(distance))), 4),
        same_service=same,
        kind=str(meta.get("kind", "")),
        service=str(meta.get("service", "")),
        app_name=str(meta.get("app_name", "")),
        solution=str(meta.get("solution", "")),
        outcome_kind=str(meta.get("outcome_kind", "")),
        recover_s=recover if recover >= 0 else None,
        opened_at=str(meta.get("opened_at", "")),
        summary=document[:SUMMARY_CHARS],
    )


def entry(meta: dict[str, Any], document: str) -> MemoryEntry:
    return MemoryEntry(
        incident_id=str(meta.get("incident_id", "")),
        kind=str(meta.get("kind", "")),
        service=str(meta.get("service", "")),
        app_name=str(meta.get("app_name", "")),
        solution=str(meta.get("solution", "")),
        outcome_kind=str(meta.get("outcome_kind", "")),
        opened_at=str(meta.get("opened_at", "")),
        summary=document[:SUMMARY_CHARS],
    )


def same_service(meta: dict[str, Any], incident: Incident) -> bool:
    if meta.get("target_key") == incident.target_key:
        return True
    service, app = incident.target.get("service"), incident.target.get("app_name")
    return bool(service) and meta.get("service") == service and meta.get("app_name") == app


def rows(result: Any) -> list[tuple[dict[str, Any], str, float]]:
    """(metadata, document, distance) of a one-query Chroma answer."""
    metas = (result.get("metadatas") or [[]])[0] or []
    docs = (result.get("documents") or [[]])[0] or []
    dists = (result.get("distances") or [[]])[0] or []
    return [(dict(m or {}), str(d or ""), float(x)) for m, d, x in zip(metas, docs, dists, strict=False)]
