"""Flap protection: how often the agent may touch one target, so it never loops.

Rules (values from FlapSettings, shown in every decision record):
- after a fix, `cooldown_s` (5 min) before the same target is touched again;
- consecutive fixes back off: the n-th waits min(base·2^(n−1), max) after the previous one;
- `failures_to_block` (3) failed fixes in a row block the target for `block_s` (1 h) and escalate;
- `recurrences_to_escalate` (5) incidents on the target within `recurrence_window_s` (4 h) escalate;
- a solution that failed `never_auto_after_failures` (2) times for the target needs a human;
- an escalated target is the human's for `escalation_hold_s` (1 h): its new signals join the
  escalated incident instead of opening another (the monitor, incidents/grouping.py), so a target
  that keeps flapping is escalated once, never again at every crash.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agent_host.diagnosis.feedback import FixLesson, lessons_from
from agent_host.incidents.store import FixRecord
from agent_host.settings import FlapSettings


@dataclass
class FlapVerdict:
    may_act: bool = True
    escalate: bool = False
    wait_s: float = 0.0
    needs_human: set[str] = field(default_factory=set)  # solutions that failed too often here
    lessons: dict[str, FixLesson] = field(default_factory=dict)  # what each past fix taught (feedback.py)
    reasons: list[str] = field(default_factory=list)


def judge(fixes: Sequence[FixRecord], recurrences: int, settings: FlapSettings, now: datetime) -> FlapVerdict:
    """What flap protection allows now for a target with these fixes (newest first) and incidents."""
    verdict = FlapVerdict(lessons=lessons_from(fixes))
    failed_in_a_row = 0
    for fix in fixes:
        if fix.outcome == "worked":
            break
        failed_in_a_row += 1
    if recurrences >= settings.recurrences_to_escalate:
        verdict.escalate = True
        verdict.may_act = False
        verdict.reasons.append(
            f"{recurrences} incidents on this target within {settings.recurrence_window_s / 3600:g} h "
            f"(limit {settings.recurrences_to_escalate}): a human must look"
        )
    if fixes:
        newest = fixes[0]
        since = (now - newest.at).total_seconds()
        if failed_in_a_row >= settings.failures_to_block and since < settings.block_s:
            verdict.may_act = False
            verdict.escalate = True
            verdict.reasons.append(
                f"{failed_in_a_row} failed fixes in a row: target blocked for {settings.block_s / 60:g} min"
            )
        streak = _streak(fixes, settings)
        backoff = min(settings.backoff_base_s * 2 ** max(streak - 1, 0), settings.backoff_max_s)
        wait = max(settings.cooldown_s, backoff) - since
        if wait > 0 and verdict.may_act:
            verdict.may_act = False
            verdict.wait_s = wait
            verdict.reasons.append(
                f"touched {since:.0f} s ago; cooldown {settings.cooldown_s:g} s, backoff {backoff:g} s "
                f"after {streak} fix(es): wait {wait:.0f} s"
            )
    failures: dict[str, int] = {}
    for fix in fixes:
        if fix.outcome != "worked":
            failures[fix.solution] = failures.get(fix.solution, 0) + 1
    for solution, count in failures.items():
        if count >= settings.never_auto_after_failures:
            verdict.needs_human.add(solution)
            verdict.reasons.append(
                f"{solution} failed {count} times here: never applied again without a human"
            )
    return verdict


def _streak(fixes: Sequence[FixRecord], settings: FlapSettings) -> int:
    """Fixes in the current run: each within backoff_max_s + cooldown of the one after it."""
    gap = timedelta(seconds=settings.backoff_max_s + settings.cooldown_s)
    streak = 1
    for newer, older in itertools.pairwise(fixes):
        if newer.at - older.at > gap:
            break
        streak += 1
    return streak
