"""The post-mortem of one incident as a person reads it: shared by `incidents show`, incident memory
(`memory show`, its MCP resource) and the dashboard's incident page."""

from __future__ import annotations

import json

from mcp_server.redaction import redact_text

from .model import Incident


def post_mortem(incident: Incident) -> str:
    """The incident as a human reads it afterwards; every line redacted."""
    d = incident.decision
    lines = [
        f"Incident {incident.id}: {incident.summary}",
        f"  target {incident.target_key}, kind {incident.kind}, severity {incident.severity}",
        f"  status {incident.status}; opened {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f", closed {incident.closed_at:%H:%M:%S} UTC" if incident.closed_at else ""),
        f"  outcome: {incident.outcome or '(open)'}",
        "Facts: " + ", ".join(f"{k}={v}" for k, v in sorted(incident.facts.items())),
    ]
    if d is not None:
        lines.append(f"Decision ({d.mode}; {d.mode_note}): {d.solution or 'no fix'} → {d.route}")
        lines += [f"  - {reason}" for reason in d.reasons]
    for action in incident.actions:
        state = "ok" if action.ok else ("REFUSED" if action.refused else "FAILED")
        extra = " (replayed)" if action.replayed else ""
        lines.append(
            f"Action {action.key}: {action.tool}({action.arguments}) {state}{extra} {action.error or ''}"
        )
    if incident.verification:
        lines.append(f"Verification: {json.dumps(incident.verification, default=str)}")
    lines.append("Timeline:")
    lines += [f"  {e.at:%H:%M:%S} {e.step}: {e.message}" for e in incident.events]
    return "\n".join(redact_text(line) for line in lines)
