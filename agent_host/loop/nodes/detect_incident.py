"""detect_incident: the incident opens — its runbook is chosen and the mode (model or runbook-only)
written into the record, so every incident says how it was decided."""

from __future__ import annotations

from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.state import LoopState


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    if incident.runbook is None or deps.library.get(incident.runbook) is None:
        suggested = incident.runbook
        matches = deps.library.for_signal(incident.kind)
        incident.runbook = matches[0].name if matches else None
        if suggested and incident.runbook != suggested:
            incident.note(
                "detect_incident", f"runbook {suggested!r} is not in the library; using {incident.runbook!r}"
            )
    incident.note(
        "detect_incident",
        f"opened: {incident.summary} (runbook {incident.runbook or 'none'}; {deps.mode_note()})",
    )
    return await deps.save(incident, "done", "detect_incident")
