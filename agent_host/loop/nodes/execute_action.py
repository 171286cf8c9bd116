"""execute_action: the plan's tool calls, in order, each with the idempotency key `<incident>:act:<n>`
(a human step is handed to the approver and noted, never called: loop/human_steps.py).
Killed halfway and restarted, this node runs again and the server answers the calls it already
made from its record (`replayed`) instead of acting twice. A refusal, an error or an unknown outcome
ends the step with the reason recorded (→ rollback), never a half-applied change left unexplained.
A lost answer is asked for once more with the same key: the server answers from its record (or says
the outcome is unknown because it stopped mid-action), it never acts twice."""

from __future__ import annotations

from agent_host.incidents.model import ActionRecord
from agent_host.loop.deps import LoopDeps, load
from agent_host.loop.human_steps import hand_over, is_human
from agent_host.loop.state import LoopState


def action_key(incident_id: str, kind: str, index: int) -> str:
    return f"{incident_id}:{kind}:{index}"


async def run(state: LoopState, deps: LoopDeps) -> LoopState:
    incident = load(state)
    incident.status = "acting"
    for step in incident.plan:
        if is_human(step):  # the approver makes this change; the agent calls nothing for it
            hand_over(incident, step)
            continue
        key = action_key(incident.id, "act", int(step["index"]))
        if any(a.key == key and a.ok for a in incident.actions):
            continue
        # a plan a human approved answers the server's own confirmation question with that yes
        confirmed = incident.approved_by is not None
        answer = await deps.link.call_tool(
            step["tool"], dict(step["arguments"]), idempotency_key=key, confirmed=confirmed
        )
        if answer.outcome_unknown:  # the answer was lost: the same key gets the server's record
            answer = await deps.link.call_tool(
                step["tool"], dict(step["arguments"]), idempotency_key=key, confirmed=confirmed
            )
        record = ActionRecord.from_answer(key, step["tool"], step["arguments"], answer)
        incident.actions = [a for a in incident.actions if a.key != key] + [record]
        verb = "replayed from the server's record" if record.replayed else "done"
        if not record.ok:
            verb = (
                "refused by policy"
                if record.refused
                else ("outcome unknown" if record.outcome_unknown else "failed")
            )
        incident.note(
            "execute_action", f"{step['tool']} {verb}" + (f": {record.error}" if record.error else "")
        )
        await deps.store.save(incident)
        if not record.ok:
            return await deps.save(incident, "failure", "execute_action")
    incident.status = "verifying"
    return await deps.save(incident, "success", "execute_action")
