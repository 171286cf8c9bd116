"""diagnose: facts by code (diagnosis/facts.py), then the runbook's first solution whose conditions
hold, then the agent's policy and flap protection decide the route: auto (act), approval (ask a
human with the exact plan) or escalate (no safe fix). A target in its backoff waits here — the
wait is recomputed from the store after a restart, so killing the agent never shortens it.

With a model (`deps.decider`), it chooses among the same candidates (diagnosis/decide.py
`apply_model`: same policy); when it is unreachable or answers malformed twice, the runbook's
choice stands and the incident says why. What code settles (flap escalation, a runbook's escalation
rule, no runbook) is never handed to the model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_host.diagnosis.decide import Choice, apply_model, choose
from agent_host.diagnosis.facts import facts_of
from agent_host.diagnosis.flap import FlapVerdict, judge
from agent_host.diagnosis.history import target_history
from agent_host.diagnosis.recall import recall, similar_reason
from agent_host.incidents.grouping import attach
from agent_host.incidents.model import Incident
from agent_host.incidents.store import FixRecord
from agent_host.loop.cause_wait import wait_for_cause
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.state import LoopState
from agent_host.model.decision import candidates_of

SELF_REASON = (
    "this is InfraGuardian's own container (label io.infraguardian.self): it never restarts, stops or "
    "heals itself; a human restarts it (from Dokploy)"
)
MAX_WAITS = 20  # each wait is recomputed from the store; 20 rounds outlast any configured backoff


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    for _ in range(MAX_WAITS):
        now = deps.clock()
        fixes, history = await target_history(deps.store, incident, deps.settings.flap, now)
        incident.facts = facts_of(incident, history, now)
        verdict = judge(fixes, history["recurrences"], deps.settings.flap, now)
        if incident.target.get("infraguardian_self"):
            verdict.may_act, verdict.escalate = False, True
            verdict.reasons.append(SELF_REASON)
        if verdict.may_act or verdict.escalate or verdict.wait_s <= 0:
            break
        incident.note("diagnose", f"waiting {verdict.wait_s:.0f} s: {verdict.reasons[-1]}")
        await deps.store.save(incident)
        await deps.sleep(verdict.wait_s)
    similar = await recall(deps.memory, incident, deps.settings.memory.similar_count)
    choice = choose(incident.runbook, deps.library, incident.facts, verdict, deps.settings, deps.mode_note())
    choice = await wait_for_cause(deps, incident, choice, verdict, history)
    if choice.retarget and choice.runbook is not None:  # code settled it: a dependency is down
        incident.decision = choice.decision
        return await _blame_dependency(deps, incident, choice.retarget, choice.runbook.name)
    choice = await _ask_model(deps, incident, choice, verdict, fixes)
    incident.decision = choice.decision
    if deps.memory is not None:
        incident.decision.similar = similar
        incident.decision.reasons.append(similar_reason(similar))
    what = choice.decision.solution or "no fix"
    incident.note(
        "diagnose",
        f"{what} → {choice.decision.route} ({choice.decision.reasons[0] if choice.decision.reasons else ''})",
    )
    return await deps.save(incident, choice.decision.route, "diagnose")


async def _ask_model(
    deps: LoopDeps, incident: Incident, choice: Choice, verdict: FlapVerdict, fixes: Sequence[FixRecord]
) -> Choice:
    """The model's choice when one is configured and there is something to choose; else `choice`."""
    decider: Any = deps.decider
    book = deps.library.get(incident.runbook or "")  # its solutions are the candidates
    if decider is None or book is None or not book.solutions or choice.decision.escalation:
        return choice
    if not decider.available():
        return _runbook_only(incident, choice, f"model unreachable: {decider.mode_note()}", decider)
    past = [
        {"incident": f.incident_id, "solution": f.solution, "outcome": f.outcome, "at": f.at.isoformat()}
        for f in fixes[:10]
    ]
    candidates = candidates_of(book, incident.facts)
    decision = await decider.decide(incident, candidates, decider.read_tools, past)
    if decision is None:
        return _runbook_only(incident, choice, decider.last_failure or "model gave no decision", decider)
    incident.note(
        "diagnose",
        f"model {decision.model} (think {decision.think}) chose {decision.solution}, confidence "
        f"{decision.confidence:g}; {len(decision.tool_calls)} tool call(s), {decision.prompt_tokens} prompt "
        f"tokens" + (f"; retried: {decision.retried_because}" if decision.retried_because else ""),
    )
    note = decider.mode_note()
    chosen = apply_model(
        incident.runbook, choice, decision, deps.library, incident.facts, verdict, deps.settings, note
    )
    chosen.decision.model_tokens = decision.prompt_tokens + decision.output_tokens
    return chosen


def _runbook_only(incident: Incident, choice: Choice, why: str, decider: Any) -> Choice:
    reason = f"{why}; decided by runbook"
    incident.note("diagnose", reason)
    choice.decision.reasons.insert(0, reason)
    choice.decision.mode_note = decider.mode_note()
    return choice


async def _blame_dependency(deps: LoopDeps, incident: Incident, upstream: str, runbook: str) -> LoopState:
    """The root cause is a dependency that is down: the incident moves to it (its runbook, its
    context) — or, when the dependency already has an open incident, joins that one."""
    host, app = incident.target.get("host", "local"), incident.target.get("app_name")
    key = f"service:{host}/{app}/{upstream}"
    if incident.retargets >= deps.settings.max_follow_depth:
        incident.close(
            "escalated", f"blame moved {incident.retargets} times already; stopping at {key}", "diagnose"
        )
        return await deps.save(incident, "done", "diagnose")
    existing = await deps.store.open_for(key)
    if existing is not None and existing.id != incident.id:
        for signal in incident.signals:
            attach(existing, signal)
        existing.affected = sorted({*existing.affected, incident.target_key})
        await deps.store.save(existing)
        incident.close(
            "merged", f"grouped into {existing.id}: its root cause is {upstream} (down)", "diagnose"
        )
        return await deps.save(incident, "done", "diagnose")
    incident.affected = sorted({*incident.affected, incident.target_key})
    incident.note("diagnose", f"blames the dependency {upstream}: {incident.target_key} → {key} ({runbook})")
    incident.target = {"host": host, "app_name": app, "service": upstream}
    incident.target_key = incident.fingerprint = key
    incident.runbook = runbook
    incident.context = {}
    incident.retargets += 1
    return await deps.save(incident, "retarget", "diagnose")
