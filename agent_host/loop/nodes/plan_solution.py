"""plan_solution: the chosen solution's actions with their arguments filled from the incident, and
a dry run of each action that has one — the exact change ("memory 256m → 512m", the compose diff)
that an approval shows and the server already judged. A refused or failed dry run stops here."""

from __future__ import annotations

from typing import Any

from agent_host.loop.deps import LoopDeps, bounded_answer, load
from agent_host.loop.human_steps import human_plan
from agent_host.loop.state import LoopState, Route
from mcp_server.runbooks import ArgumentFillError, fill


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    decision = incident.decision
    book = deps.library.get(decision.runbook or "") if decision else None
    solution = (
        next((s for s in book.solutions if s.id == decision.solution), None) if book and decision else None
    )
    if decision is None or solution is None:
        incident.note("plan_solution", "nothing to plan")
        return await deps.save(incident, "escalate", "plan_solution")
    plan: list[dict[str, Any]] = []
    for index, action in enumerate(solution.actions):
        try:
            arguments = fill(action.arguments, incident.target, incident.facts)
        except ArgumentFillError as exc:
            return await _stop(deps, incident, f"cannot fill {action.tool}: {exc}")
        step: dict[str, Any] = {"index": index, "do": action.do, "tool": action.tool, "arguments": arguments}
        if action.dry_run_first:
            preview = await deps.link.call_tool(action.tool, {**arguments, "dry_run": True})
            step["dry_run"] = bounded_answer(action.tool, {**arguments, "dry_run": True}, preview)
            if not preview.ok or (preview.structured or {}).get("ok") is False:
                why = preview.error or preview.text[:300]
                return await _stop(
                    deps,
                    incident,
                    f"dry run of {action.tool} {'refused' if preview.refused else 'failed'}: {why}",
                )
        plan.append(step)
    try:  # a change only a person can make: its instruction, filled with the evidence
        plan += human_plan(solution, incident.target, incident.facts)
    except ArgumentFillError as exc:
        return await _stop(deps, incident, f"cannot write the human step: {exc}")
    incident.plan = plan
    incident.note(
        "plan_solution", "plan: " + "; ".join(f"{s['tool']}({_short(s['arguments'])})" for s in plan)
    )
    route: Route = "auto" if decision.route == "auto" else "approval"
    return await deps.save(incident, route, "plan_solution")


async def _stop(deps: LoopDeps, incident: Any, reason: str) -> LoopState:
    if incident.decision is not None:
        incident.decision.route = "escalate"
        incident.decision.escalation.append(reason)
    incident.note("plan_solution", reason)
    return await deps.save(incident, "escalate", "plan_solution")


def _short(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in arguments.items())
