"""The messages the model gets for one incident, from the prompt files in `prompts/`.

`prompts/system.md` (the rules) and `prompts/decide.md` (the evidence) are reviewed like code;
they are `string.Template`s ($name placeholders). The evidence: the deterministic pre-diagnosis
(facts), the log digest, the dependency graph around the target, the last deployment, past outcomes
on the same target, and the runbook's candidate solutions. Container text stays inside
`<untrusted-data>` fences: the server's, or ours when it reached us unfenced.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

from agent_host.incidents.model import Incident
from mcp_server.redaction import redact_text
from mcp_server.safety.boundary import wrap_untrusted

from .decision import Candidate, decision_schema

PROMPTS = Path(__file__).parent / "prompts"
# facts that hold container text go to the log digest (fenced), not into the facts block
TEXT_FACTS = ("last_lines",)
DEPLOYMENT_KEYS = ("status", "created_at", "finished_at", "title", "description", "deployment_id")


@functools.cache
def template(name: str) -> Template:
    return Template((PROMPTS / name).read_text(encoding="utf-8"))


def system_prompt() -> str:
    return template("system.md").template.strip()


def fenced(text: str, source: str) -> str:
    """`text` as the server fences container output (kept as is when it is fenced already)."""
    return text if "<untrusted-data" in text else wrap_untrusted(text, source)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n…(cut)"


def log_digest(incident: Incident, max_chars: int) -> str:
    """The logs the runbook gathered and the last lines the detector saw, bounded."""
    service = incident.target.get("service") or incident.target_key
    parts = [
        fenced(str(entry.get("text") or ""), f"container logs: {service}")
        for entry in incident.context.values()
        if entry.get("tool") == "read_logs" and entry.get("ok") and entry.get("text")
    ]
    last = incident.facts.get("last_lines")
    if last:
        parts.append(fenced(str(last), f"last log lines seen by the detector: {service}"))
    if not parts:
        return "(no logs were gathered)"
    share = max(200, max_chars // len(parts))
    return "\n\n".join(_cut(p, share) for p in parts)


def graph_neighbourhood(incident: Incident) -> str:
    service = incident.target.get("service")
    graph = (incident.context.get("_graph") or {}).get("structured") or {}
    health = (incident.context.get("_health") or {}).get("structured") or {}
    node = next((n for n in graph.get("services") or [] if n.get("name") == service), None)
    verdicts = {r.get("service"): r.get("verdict") for r in health.get("services") or []}
    if node is None and not verdicts:
        return "(no compose graph)"
    shown: dict[str, Any] = {"service": service}
    if node is not None:
        shown |= {
            "kind": node.get("kind"),
            "depends_on": node.get("depends_on") or [],
            "upstream": node.get("upstream") or [],
            "dependants": node.get("blast_radius") or [],
        }
    if verdicts:
        shown["health_of_the_stack"] = verdicts
    return json.dumps(shown, default=str)


def last_deployment(incident: Incident) -> str:
    for entry in incident.context.values():
        if entry.get("tool") == "deployment_history" and entry.get("ok"):
            rows = (entry.get("structured") or {}).get("deployments") or []
            if rows:
                newest = {k: rows[0].get(k) for k in DEPLOYMENT_KEYS if rows[0].get(k) is not None}
                # titles and descriptions are commit messages: text from outside
                return fenced(json.dumps(newest, default=str), "deployment record")
            return "(no deployments recorded)"
    return "(deployment history not gathered)"


def past_outcomes_text(outcomes: Sequence[Mapping[str, Any]]) -> str:
    if not outcomes:
        return "(none: first incident on this target)"
    return "\n".join("- " + json.dumps(dict(o), default=str) for o in outcomes[:10])


def similar_text(incident: Incident) -> str:
    """The most similar past incidents (incident memory): what was done and how it ended. Their
    summaries hold container text, so the block is fenced."""
    rows = (incident.context.get("_similar") or {}).get("structured") or []
    if not rows:
        return "(none remembered)"
    keys = ("incident_id", "similarity", "same_service", "service", "kind", "solution", "outcome_kind",
            "recover_s", "summary")  # fmt: skip
    lines = [json.dumps({k: r.get(k) for k in keys}, default=str) for r in rows]
    return wrap_untrusted("\n".join(lines), "incident memory: past incidents")


def notes_text(incident: Incident) -> str:
    """The owner's knowledge notes closest to this incident (written by people: not fenced, but
    redacted like everything the model is sent)."""
    notes = (incident.context.get("_notes") or {}).get("structured") or []
    return (
        "\n".join(
            f"- (similarity {n.get('similarity', 0):.2f}) {redact_text(str(n.get('text', ''))[:500])}"
            for n in notes
        )
        or "(none)"
    )


def decide_prompt(
    incident: Incident,
    candidates: Sequence[Candidate],
    past_outcomes: Sequence[Mapping[str, Any]],
    *,
    max_log_chars: int,
    per_tool: int,
    per_incident: int,
) -> str:
    ids = [c.id for c in candidates]
    facts = {k: v for k, v in incident.facts.items() if k not in TEXT_FACTS}
    signals = [
        {"kind": s.get("kind"), "severity": s.get("severity"), "summary": str(s.get("summary") or "")[:200]}
        for s in incident.signals[:10]
    ]
    return template("decide.md").substitute(
        incident_id=incident.id,
        summary=incident.summary[:300],
        kind=incident.kind,
        severity=incident.severity,
        target=json.dumps(incident.target, default=str),
        signals=json.dumps(signals, default=str),
        facts=json.dumps(facts, default=str, indent=1),
        log_digest=log_digest(incident, max_log_chars),
        graph=graph_neighbourhood(incident),
        deployment=last_deployment(incident),
        past_outcomes=past_outcomes_text(past_outcomes),
        similar=similar_text(incident),
        notes=notes_text(incident),
        runbook=incident.runbook or "none",
        candidates=json.dumps([c.describe() for c in candidates], indent=1),
        candidate_ids=", ".join(f"`{i}`" for i in ids) or "(no candidates)",
        per_tool=per_tool,
        per_incident=per_incident,
        schema=json.dumps(decision_schema(ids)),
    )
