"""Human steps: a planned change that a person makes, not the agent (a runbook's `human_steps`).

Docker cannot grow a volume in place and the agent never deletes data, so some fixes can only be
asked for. Such a step is a plan entry whose tool is `HUMAN`: its `arguments.instruction` is the
runbook's instruction with the incident's facts filled in (e.g. the volume, its size, use and
growth, the services using it, the size to give it). The approval shows it word for word.
Approving hands it to the person who approved: the agent calls no tool for it and says so in the
incident (execute_action), then verifies the runbook's checks over the solution's window like after
any fix. When the checks do not hold at the end, the incident is escalated with that reason — not
rolled back: the agent changed nothing, so there is nothing to undo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_host.incidents.model import Incident
from mcp_server.runbooks import Solution, fill

HUMAN = "human"  # the `tool` of a plan step a person carries out (no MCP tool has this name)


def human_plan(
    solution: Solution, target: Mapping[str, Any], facts: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The solution's human steps as plan entries; `ArgumentFillError` names a missing fact."""
    # a list fact reads as "qdrant, api" in a sentence, not as a Python list
    readable = {k: ", ".join(map(str, v)) if isinstance(v, list) else v for k, v in facts.items()}
    return [
        {
            "index": index,
            "do": step.do,
            "tool": HUMAN,
            "arguments": {"instruction": fill(step.instruction, target, readable)},
        }
        for index, step in enumerate(solution.human_steps)
    ]


def is_human(step: Mapping[str, Any]) -> bool:
    return step.get("tool") == HUMAN


def human_only(plan: Sequence[Mapping[str, Any]]) -> bool:
    """True when every step of a (non-empty) plan is a person's: the agent itself changes nothing."""
    return bool(plan) and all(is_human(step) for step in plan)


HUMAN_CHANGE = "for you to do, the agent will not do it: "


def describe_human(step: Mapping[str, Any]) -> str:
    """The approval's line for a human step: who does it, then exactly what."""
    return f"{HUMAN_CHANGE}{step['arguments']['instruction']}"


def hand_over(incident: Incident, step: Mapping[str, Any]) -> None:
    """Record, once, that the approved step is now the approver's and that the agent did not act."""
    who = incident.approved_by or "the approver"
    message = f"handed to {who}; the agent did not act: {step['arguments']['instruction']}"
    if any(e.step == "execute_action" and e.message == message for e in incident.events):
        return  # noted before a restart
    incident.note("execute_action", message)
    if incident.decision is not None:
        incident.decision.reasons.append(
            f"the agent did not act: {who} approved and was asked to: {step['do']}"
        )


def not_done_reason(incident: Incident) -> str:
    """Why a human plan is escalated after its verification window: the checks did not hold."""
    checks = (incident.verification or {}).get("checks") or {}
    failed = [name for name, score in checks.items() if score.get("last") is not True]
    window = (incident.verification or {}).get("window_s")
    return (
        f"the approved human step was not done or did not help: {', '.join(failed) or 'checks'} "
        f"still failing after {window:g} s; the agent changed nothing, nothing to undo"
        if isinstance(window, int | float)
        else "the approved human step was not done or did not help; the agent changed nothing"
    )
