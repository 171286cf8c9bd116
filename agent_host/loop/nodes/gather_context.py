"""gather_context: the runbook's read-only context calls, in order. A call may use facts from the
calls before it (e.g. a dry run of the proposed memory limit); a call whose arguments cannot be
filled yet, or whose `when` conditions do not hold, is skipped and noted. Nothing here changes
anything.

The last lines the target wrote (a detector's evidence) are noted in the timeline first: a restart
loses a hung worker's state, so the stuck step ("processing job 42 step 3/5") must survive in the
post-mortem."""

from __future__ import annotations

from agent_host.diagnosis.facts import compute_facts, log_evidence
from agent_host.incidents.model import Incident
from agent_host.loop.deps import LoopDeps, bounded_answer, load
from agent_host.loop.state import LoopState
from mcp_server.runbooks import ArgumentFillError, all_hold, fill

LAST_LINES_NOTE = "last lines it wrote"
LAST_LINES_KEPT = 3


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    note_last_lines(incident)
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
        if not all_hold(call.when, facts):  # e.g. no prune plan when a data volume is what fills
            why = "; ".join(c.explain(facts) for c in call.when)
            incident.note("gather_context", f"{call.id}: not needed ({why})")
            continue
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
    note_log_evidence(incident)
    return await deps.save(incident, "done", "gather_context")


LOG_EVIDENCE_NOTE = "log line showing"


def note_log_evidence(incident: Incident) -> None:
    """Note the first log line of each known failure pattern (e.g. the one causal line of a log
    flood), so whoever reads the incident or its escalation sees the cause, not only its name."""
    for name, line in log_evidence(incident.context, incident.signals).items():
        message = f"{LOG_EVIDENCE_NOTE} {name}: {line}"
        if not any(e.step == "gather_context" and e.message == message for e in incident.events):
            incident.note("gather_context", message)


def note_last_lines(incident: Incident) -> None:
    """Note, once, the last lines a signal's evidence carries (already redacted by the server)."""
    if any(e.step == "gather_context" and e.message.startswith(LAST_LINES_NOTE) for e in incident.events):
        return  # noted already: a retargeted incident gathers its context again
    for signal in incident.signals:
        lines = (signal.get("evidence") or {}).get("last_log_lines")
        if isinstance(lines, list) and lines:
            shown = " | ".join(str(line)[:200] for line in lines[-LAST_LINES_KEPT:])
            incident.note(
                "gather_context", f"{LAST_LINES_NOTE} (from the {signal.get('kind')} signal): {shown}"
            )
            return
