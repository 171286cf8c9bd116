"""diagnose: facts by code (diagnosis/facts.py), then the runbook's first solution whose conditions
hold, then the agent's policy and flap protection decide the route: auto (act), approval (ask a
human with the exact plan) or escalate (no safe fix). A target in its backoff waits here — the
wait is recomputed from the store after a restart, so killing the agent never shortens it."""

from __future__ import annotations

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.facts import compute_facts
from agent_host.diagnosis.flap import judge
from agent_host.diagnosis.history import target_history
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.state import LoopState

MAX_WAITS = 20  # each wait is recomputed from the store; 20 rounds outlast any configured backoff


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    for _ in range(MAX_WAITS):
        now = deps.clock()
        fixes, history = await target_history(deps.store, incident, deps.settings.flap, now)
        graph = (incident.context.get("_graph") or {}).get("structured")
        health = (incident.context.get("_health") or {}).get("structured")
        incident.facts = compute_facts(
            signals=incident.signals, target=incident.target, context=incident.context,
            graph=graph, health=health, history=history, now=now,
        )  # fmt: skip
        verdict = judge(fixes, history["recurrences"], deps.settings.flap, now)
        if verdict.may_act or verdict.escalate or verdict.wait_s <= 0:
            break
        incident.note("diagnose", f"waiting {verdict.wait_s:.0f} s: {verdict.reasons[-1]}")
        await deps.store.save(incident)
        await deps.sleep(verdict.wait_s)
    choice = choose(incident.runbook, deps.library, incident.facts, verdict, deps.settings, deps.mode_note())
    incident.decision = choice.decision
    what = choice.decision.solution or "no fix"
    incident.note(
        "diagnose",
        f"{what} → {choice.decision.route} ({choice.decision.reasons[0] if choice.decision.reasons else ''})",
    )
    return await deps.save(incident, choice.decision.route, "diagnose")
