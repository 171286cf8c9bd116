"""escalate: hand the incident to a human. With a planned fix that needs approval, ask through the
approvals book (the exact change from the dry run, the blast radius, the reasons) and pause the
graph until it is answered — approved → execute_action; denied or expired → closed as escalated.
Without a fix (no runbook, an escalation rule, a refusal, a rollback), close it with the reasons.
No approval channel means no approval: the fix is refused, never assumed."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent_host.approvals.book import ApprovalRequest, approval_id, expiry, plan_hash
from agent_host.incidents.model import Incident, now
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.human_steps import describe_human, human_only, is_human
from agent_host.loop.state import LoopState

HUMAN_TITLE = " (a human step: approving hands it to you, then the agent verifies)"


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    wants_approval = state.get("route") == "approval" and bool(incident.plan) and not incident.actions
    if not wants_approval:
        return await _close(deps, incident)
    if deps.approvals is None:
        incident.close(
            "escalated", "approval needed but no approval channel is configured: refused", "escalate"
        )
        return await deps.save(incident, "done", "escalate")
    digest = plan_hash(incident.plan)
    request = await deps.approvals.ask(
        ApprovalRequest(
            id=approval_id(incident.id, digest),
            incident_id=incident.id,
            title=f"{incident.decision.solution if incident.decision else 'fix'} on {incident.target_key}"
            + (HUMAN_TITLE if human_only(incident.plan) else ""),
            changes=[describe_change(step) for step in incident.plan],
            blast_radius=list(incident.facts.get("dependants") or []),
            reasons=list(incident.decision.reasons if incident.decision else [])[:12],
            plan_hash=digest,
            expires_at=expiry(now(), deps.settings.approval_expiry_s),
        )
    )
    if incident.status != "awaiting_approval":
        incident.status = "awaiting_approval"
        incident.note("escalate", f"approval {request.id} asked: {'; '.join(request.changes)}")
        await deps.store.save(incident)
        for listener in deps.listeners:
            listener(incident, "escalate")
    interrupt({"approval_id": request.id})  # pauses here; the monitor resumes once it is answered
    answered = await deps.approvals.get(request.id)
    status = answered.status if answered else "expired"
    if status == "approved" and answered is not None:
        incident.status = "acting"
        incident.approved_by = answered.answered_by
        incident.note("escalate", f"approval {request.id} approved by {answered.answered_by}")
        return await deps.save(incident, "approved", "escalate")
    who = f" by {answered.answered_by}" if answered and answered.answered_by else ""
    incident.close("escalated", f"approval {request.id} {status}{who}: nothing was changed", "escalate")
    return await deps.save(incident, "done", "escalate")


async def _close(deps: LoopDeps, incident: Incident) -> LoopState:
    if incident.closed:
        return await deps.save(incident, "done", "escalate")
    reasons = []
    if incident.decision:
        reasons = incident.decision.escalation or incident.decision.reasons[:3]
    if any(not a.ok for a in incident.actions):
        failed = next(a for a in incident.actions if not a.ok)
        reasons = [
            f"{failed.tool} {'refused' if failed.refused else 'failed'}: {failed.error or failed.summary[:200]}",
            *reasons,
        ]
    if incident.verification and incident.verification.get("verdict") != "healthy":
        reasons = [f"verification {incident.verification.get('verdict')}", *reasons]
    incident.close("escalated", "needs a human: " + ("; ".join(reasons) or "no safe fix"), "escalate")
    return await deps.save(incident, "done", "escalate")


def describe_change(step: dict[str, Any]) -> str:
    """One line a human can approve: "set_memory_limit api: memory 256m → 512m" or the compose diff."""
    if is_human(step):
        return describe_human(step)
    preview = (step.get("dry_run") or {}).get("structured") or {}
    containers = preview.get("containers") or []
    if step["tool"] == "set_memory_limit" and containers:
        first = containers[0]
        return f"set_memory_limit {preview.get('service')}: memory {first.get('old_limit')} → {first.get('new_limit')} ({len(containers)} container(s))"
    if preview.get("compose_diff"):
        return f"{step['tool']}: compose diff\n{str(preview['compose_diff'])[:1500]}"
    arguments = ", ".join(f"{k}={v}" for k, v in step["arguments"].items())
    return f"{step['tool']}({arguments})"
