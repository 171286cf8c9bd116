"""learn: the fix is verified — record it as worked for this target (the next decision and flap
protection read it), with the time to recover, and close the incident as resolved."""

from __future__ import annotations

from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.state import LoopState


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    decision = incident.decision
    if decision and decision.solution:
        await deps.store.record_fix(
            incident.id, incident.target_key, decision.solution, "worked", deps.clock()
        )
    recovered_s = (deps.clock() - incident.opened_at).total_seconds()
    incident.close(
        "resolved",
        f"resolved by {decision.solution if decision else 'nothing'} in {recovered_s:.0f} s",
        "learn",
    )
    return await deps.save(incident, "done", "learn")
