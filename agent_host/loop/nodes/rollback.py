"""rollback: the fix failed or made things worse — run the solution's undo actions (idempotency key
`<incident>:undo:<n>`), record the fix as failed for flap protection, then escalate. A solution
without undo actions says so in the record; nothing is guessed."""

from __future__ import annotations

from agent_host.incidents.model import ActionRecord
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.nodes.execute_action import action_key
from agent_host.loop.state import LoopState
from mcp_server.runbooks import ArgumentFillError, fill


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    decision = incident.decision
    book = deps.library.get(decision.runbook or "") if decision else None
    solution = (
        next((s for s in book.solutions if s.id == decision.solution), None) if book and decision else None
    )
    verdict = (incident.verification or {}).get("verdict")
    outcome = "made_worse" if verdict == "unhealthy" else "failed"
    if decision and decision.solution:
        await deps.store.record_fix(
            incident.id, incident.target_key, decision.solution, outcome, deps.clock()
        )
    acts = [a for a in incident.actions if ":act:" in a.key and not a.dry_run]
    anything_done = any(a.ok for a in acts)
    unknown = [a for a in acts if a.outcome_unknown]
    if unknown and not anything_done:
        # the server stopped mid-action: the change may or may not have happened, so neither
        # "nothing changed" nor an undo (which could change what was never changed) is honest
        names = ", ".join(sorted({a.tool for a in unknown}))
        incident.note(
            "rollback",
            f"not undone: the outcome of {names} on {incident.target_key} is unknown (the server stopped "
            "while it ran); it may or may not have changed it — a human must check its current state",
        )
        return await deps.save(incident, "done", "rollback")
    if solution is None or not solution.undo or not anything_done:
        why = "nothing was changed" if not anything_done else "the solution has no undo"
        incident.note("rollback", f"nothing to undo ({why})")
        return await deps.save(incident, "done", "rollback")
    for index, action in enumerate(solution.undo):
        key = action_key(incident.id, "undo", index)
        try:
            arguments = fill(action.arguments, incident.target, incident.facts)
        except ArgumentFillError as exc:
            incident.note("rollback", f"cannot undo with {action.tool}: {exc}")
            break
        answer = await deps.link.call_tool(action.tool, arguments, idempotency_key=key)
        incident.actions.append(ActionRecord.from_answer(key, action.tool, arguments, answer))
        incident.note(
            "rollback", f"undo {action.tool}: {'done' if answer.ok else 'FAILED: ' + str(answer.error)}"
        )
        if not answer.ok:
            break
    return await deps.save(incident, "done", "rollback")
