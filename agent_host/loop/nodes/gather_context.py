"""gather_context: the runbook's read-only context calls, in order. A call may use facts from the
calls before it (e.g. a dry run of the proposed memory limit); a call whose arguments cannot be
filled yet is skipped and noted. Nothing here changes anything."""

from __future__ import annotations

from agent_host.diagnosis.facts import compute_facts
from agent_host.loop.deps import LoopDeps, bounded_answer, load
from agent_host.loop.state import LoopState
from mcp_server.runbooks import ArgumentFillError, fill


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    book = deps.library.get(incident.runbook or "")
    if book is None:
        incident.note("gather_context", "no runbook: nothing to gather")
        return await deps.save(incident, "done", "gather_context")
    for call in book.context:
        if call.id in incident.context:
            continue  # gathered before a restart
        facts = compute_facts(
            signals=incident.signals, target=incident.target, context=incident.context,
            graph=None, health=None, history={}, now=deps.clock(),
        )  # fmt: skip
        try:
            arguments = fill(call.arguments, incident.target, facts)
        except ArgumentFillError as exc:
            incident.note("gather_context", f"{call.id}: skipped ({exc})")
            continue
        if arguments.get("dry_run") is False:
            raise RuntimeError(f"runbook {book.name}: context call {call.id} must not change anything")
        answer = await deps.link.call_tool(call.tool, arguments)
        incident.context[call.id] = bounded_answer(call.tool, arguments, answer)
        if not answer.ok:
            incident.note(
                "gather_context", f"{call.id}: {call.tool} failed: {answer.error or answer.text[:200]}"
            )
    return await deps.save(incident, "done", "gather_context")
