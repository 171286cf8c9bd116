"""Choosing a fix from the runbook, by code: the first solution whose conditions hold (following
`follow` to another runbook, at most `max_follow_depth` times), then the agent's own policy above
the server's: act alone only when the risk is low, the confidence reaches the threshold, the
solution does not demand a human, and flap protection allows it; otherwise ask a human.
With a model, `apply_model` turns its pick among the same candidates into the choice, under the
same rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_host.incidents.model import Decision
from agent_host.model.decision import NONE, ModelDecision
from agent_host.settings import AgentSettings
from mcp_server.runbooks import Runbook, RunbookLibrary, Solution, Verify, all_hold
from mcp_server.runbooks.model import RETARGET_FACTS

from .feedback import adjusted, order_reason, ranked
from .flap import FlapVerdict

_BLAMED = {"upstream": "the dependency", "cpu_hog": "the service taking its CPU"}


@dataclass
class Choice:
    decision: Decision
    solution: Solution | None = None
    runbook: Runbook | None = None
    retarget: str | None = None  # the service to blame instead (its runbook is `runbook`)

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
        holding = [s for s in book.solutions if all_hold(s.when, facts)]
        solution = next(iter(ranked(holding, flap.lessons)), None)
        if solution is None:
            decision.reasons.append(f"{book.name}: no solution's conditions hold")
            for candidate in book.solutions:
                failed = [c.explain(facts) for c in candidate.when if not c.holds(facts)]
                decision.reasons.append(f"  {candidate.id}: " + "; ".join(failed))
            return Choice(decision, runbook=book)
        decision.reasons += [f"{book.name}/{solution.id}: " + c.explain(facts) for c in solution.when]
        reordered = order_reason(holding[0], solution, flap.lessons)
        if reordered:
            decision.reasons.append(reordered)
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
        blamed = list(facts.get(RETARGET_FACTS.get(solution.apply_to, ""), None) or [])
        if blamed:  # apply_to names another service as the root cause (a down dependency, a CPU hog)
            decision.runbook = followed.name
            decision.reasons.append(
                f"the root cause is {_BLAMED[solution.apply_to]} {blamed[0]}: {followed.name} applies to it"
            )
            return Choice(decision, runbook=followed, retarget=blamed[0])
        book = followed
        seen.append(book.name)
    confidence, threshold = _adopt(decision, book, solution, solution.confidence, flap, settings)
    if (
        solution.approval == "always"
        or solution.risk != "low"
        or confidence < threshold
        or solution.id in flap.needs_human
    ):
        decision.route = "approval"
        decision.reasons.append(
            f"asks a human: risk {solution.risk}, confidence {confidence:g} vs threshold "
            f"{threshold:g}, approval {solution.approval}"
            + (", failed here before" if solution.id in flap.needs_human else "")
        )
    else:
        decision.route = "auto"
        decision.reasons.append(f"acts alone: risk low, confidence {confidence:g} ≥ threshold {threshold:g}")
    return Choice(decision, solution=solution, runbook=book)


def apply_model(
    runbook_name: str | None,
    choice: Choice,
    model: ModelDecision,
    library: RunbookLibrary,
    facts: Mapping[str, Any],
    flap: FlapVerdict,
    settings: AgentSettings,
    mode_note: str,
) -> Choice:
    """The model's decision as the Choice, under the same policy as the runbook's (`choice`, what
    `choose` made of the incident's runbook `runbook_name`).

    The model picks among the runbook's candidates only; its confidence replaces the runbook's, the
    rule does not change: act alone only when the risk is low, the confidence reaches the threshold,
    the solution does not demand a human, flap protection allows it AND the solution's own `when`
    conditions hold. A candidate whose conditions do not hold can only be proposed to a human.
    What code settles stands: an escalation by flap protection or a runbook rule is kept; a model
    that tried to act outside the candidates (an answer or a tool call) escalates; "none" escalates.
    """
    book = library.get(runbook_name or "")  # the incident's runbook: its solutions were the candidates
    decision = Decision(mode="model", mode_note=mode_note, runbook=runbook_name)
    decision.reasons.append(f"model {model.model} (think {model.think}): root cause: {model.root_cause}")
    decision.reasons += [f"model: {reason}" for reason in model.reasons]
    if model.tool_calls:
        decision.reasons.append("model read: " + ", ".join(model.tool_calls))
    runbook_pick = choice.decision.solution or "no fix"
    decision.reasons.append(f"runbook alone: {runbook_pick} → {choice.decision.route}")
    decision.reasons += flap.reasons
    if model.refusals:
        decision.escalation += [f"refused: {r}" for r in model.refusals]
        decision.reasons += [f"refused (possible prompt injection): {r}" for r in model.refusals]
        return Choice(decision, runbook=book)
    if book is None or choice.decision.escalation:
        decision.escalation += choice.decision.escalation
        decision.reasons += choice.decision.reasons
        return Choice(decision, runbook=choice.runbook)
    solution = next((s for s in book.solutions if s.id == model.solution), None)
    if solution is None:
        why = (
            "the model found no candidate that fits: a human decides"
            if model.solution == NONE
            else f"the model chose {model.solution!r}, not a candidate of {book.name}: refused"
        )
        decision.escalation.append(why)
        decision.reasons.append(why)
        return Choice(decision, runbook=book)
    holds = all_hold(solution.when, facts)
    decision.reasons += [f"{book.name}/{solution.id}: " + c.explain(facts) for c in solution.when]
    seen = [book.name]
    while solution.follow is not None:
        followed = library.get(solution.follow)
        if followed is None or len(seen) > settings.max_follow_depth or followed.name in seen:
            decision.escalation.append(f"follow {solution.follow!r} not taken ({' → '.join(seen)})")
            decision.reasons.append(decision.escalation[-1])
            return Choice(decision, runbook=book)
        held = [r.reason for r in followed.escalate_when if r.when and all_hold(r.when, facts)]
        nxt = next((s for s in followed.solutions if all_hold(s.when, facts)), None)
        if held or nxt is None:
            why = held[0] if held else "no solution's conditions hold"
            decision.escalation.append(f"{solution.id} follows {followed.name}: {why}")
            decision.reasons.append(decision.escalation[-1])
            return Choice(decision, runbook=followed)
        decision.reasons.append(f"{book.name}/{solution.id}: follows runbook {followed.name} → {nxt.id}")
        book, solution = followed, nxt
        seen.append(book.name)
    confidence, threshold = _adopt(decision, book, solution, model.confidence, flap, settings)
    blocked = [
        why
        for why, bad in (
            (f"risk {solution.risk}", solution.risk != "low"),
            (f"confidence {confidence:g} < threshold {threshold:g}", confidence < threshold),
            ("approval always", solution.approval == "always"),
            ("flap protection does not allow acting now", not flap.may_act),
            ("failed here before", solution.id in flap.needs_human),
            ("its conditions do not hold", not holds),
        )
        if bad
    ]
    decision.route = "approval" if blocked else "auto"
    decision.reasons.append(
        "asks a human: " + ", ".join(blocked)
        if blocked
        else f"acts alone: risk low, model confidence {confidence:g} ≥ threshold {threshold:g}"
    )
    return Choice(decision, solution=solution, runbook=book)


def _adopt(
    decision: Decision,
    book: Runbook,
    solution: Solution,
    confidence: float,
    flap: FlapVerdict,
    settings: AgentSettings,
) -> tuple[float, float]:
    """Write the chosen solution into the decision record (whoever chose it), with the confidence
    and threshold after what this target's past fixes teach (feedback.py); returns those two."""
    confidence, threshold, lessons = adjusted(solution, confidence, flap.lessons, settings.learning)
    decision.runbook = book.name
    decision.solution = solution.id
    decision.solution_title = solution.title
    decision.confidence = confidence
    decision.threshold = threshold
    decision.risk = solution.risk
    decision.reasons += lessons
    decision.reasons.append(_flap_settings(settings))
    return confidence, threshold


def _flap_settings(settings: AgentSettings) -> str:
    f = settings.flap
    return (
        f"flap protection: cooldown {f.cooldown_s:g} s, backoff {f.backoff_base_s:g}–{f.backoff_max_s:g} s, "
        f"block after {f.failures_to_block} failures for {f.block_s:g} s, escalate after "
        f"{f.recurrences_to_escalate} incidents in {f.recurrence_window_s:g} s, an escalated target "
        f"left to a human for {f.escalation_hold_s:g} s"
    )
