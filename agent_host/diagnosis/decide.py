"""Choosing a fix from the runbook, by code: the first solution whose conditions hold (following
`follow` to another runbook, at most `max_follow_depth` times), then the agent's own policy above
the server's: act alone only when the risk is low, the confidence reaches the threshold, the
solution does not demand a human, and flap protection allows it; otherwise ask a human.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_host.incidents.model import Decision
from agent_host.settings import AgentSettings
from mcp_server.runbooks import Runbook, RunbookLibrary, Solution, Verify, all_hold

from .flap import FlapVerdict


@dataclass
class Choice:
    decision: Decision
    solution: Solution | None = None
    runbook: Runbook | None = None

    @property
    def verify(self) -> Verify | None:
        if self.solution is not None and self.solution.verify is not None:
            return self.solution.verify
        return self.runbook.verify if self.runbook else None


def choose(
    runbook_name: str | None,
    library: RunbookLibrary,
    facts: Mapping[str, Any],
    flap: FlapVerdict,
    settings: AgentSettings,
    mode_note: str,
) -> Choice:
    decision = Decision(mode="runbook", mode_note=mode_note, runbook=runbook_name)
    book = library.get(runbook_name or "")
    if book is None:
        decision.reasons.append(
            f"no runbook answers this signal ({runbook_name or 'none'}): a human must look"
        )
        return Choice(decision)
    decision.reasons += flap.reasons
    if flap.escalate:
        decision.escalation += flap.reasons
        decision.reasons.append(_flap_settings(settings))
        return Choice(decision, runbook=book)
    seen = [book.name]
    while True:
        held = [rule.reason for rule in book.escalate_when if rule.when and all_hold(rule.when, facts)]
        if held:
            decision.escalation += held
            decision.reasons.append(f"{book.name}: escalation rule holds: {held[0]}")
            return Choice(decision, runbook=book)
        solution = next((s for s in book.solutions if all_hold(s.when, facts)), None)
        if solution is None:
            decision.reasons.append(f"{book.name}: no solution's conditions hold")
            for candidate in book.solutions:
                failed = [c.explain(facts) for c in candidate.when if not c.holds(facts)]
                decision.reasons.append(f"  {candidate.id}: " + "; ".join(failed))
            return Choice(decision, runbook=book)
        decision.reasons += [f"{book.name}/{solution.id}: " + c.explain(facts) for c in solution.when]
        if solution.follow is None:
            break
        if len(seen) > settings.max_follow_depth or solution.follow in seen:
            decision.reasons.append(
                f"follow {solution.follow!r} not taken: depth or cycle ({' → '.join(seen)})"
            )
            return Choice(decision, runbook=book)
        decision.reasons.append(f"{book.name}/{solution.id}: follows runbook {solution.follow}")
        followed = library.get(solution.follow)
        if followed is None:  # the library checks follows at load; kept for a library built by hand
            return Choice(decision, runbook=book)
        book = followed
        seen.append(book.name)
    decision.runbook = book.name
    decision.solution = solution.id
    decision.solution_title = solution.title
    decision.confidence = solution.confidence
    decision.threshold = solution.threshold
    decision.risk = solution.risk
    decision.reasons.append(_flap_settings(settings))
    if (
        solution.approval == "always"
        or solution.risk != "low"
        or solution.confidence < solution.threshold
        or solution.id in flap.needs_human
    ):
        decision.route = "approval"
        decision.reasons.append(
            f"asks a human: risk {solution.risk}, confidence {solution.confidence:g} vs threshold "
            f"{solution.threshold:g}, approval {solution.approval}"
            + (", failed here before" if solution.id in flap.needs_human else "")
        )
    else:
        decision.route = "auto"
        decision.reasons.append(
            f"acts alone: risk low, confidence {solution.confidence:g} ≥ threshold {solution.threshold:g}"
        )
    return Choice(decision, solution=solution, runbook=book)


def _flap_settings(settings: AgentSettings) -> str:
    f = settings.flap
    return (
        f"flap protection: cooldown {f.cooldown_s:g} s, backoff {f.backoff_base_s:g}–{f.backoff_max_s:g} s, "
        f"block after {f.failures_to_block} failures for {f.block_s:g} s, escalate after "
        f"{f.recurrences_to_escalate} incidents in {f.recurrence_window_s:g} s"
    )
