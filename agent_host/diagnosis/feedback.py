"""What a target's past fixes teach the next decision: the LEARN step fed back into DIAGNOSE.

From the incident store's fix records for the target (the same root-cause fingerprint), newest
first, each solution gets a lesson: how often it failed since it last worked, and how often it
worked since it last failed. Then, for the candidates whose conditions hold:
- order: the runbook's (it puts the more specific fix first), except that what failed here goes
  after every candidate that did not (fewest failures first) — a fix that failed is not tried
  again while an alternative holds. A success alone reorders nothing: last month's restart is no
  reason to skip the rollback a bad deploy calls for;
- confidence: each failure since it last worked costs `failure_penalty` (settings.learning), and
  two failures (flap.never_auto_after_failures) already make it a human's call;
- threshold: a fix that worked `trust_after` times here and has not failed since may act at a
  threshold `threshold_discount` lower (never below `threshold_floor`); risk and `approval:
  always` still ask a human.
Every adjustment is a line of the decision record, so the human sees why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent_host.incidents.store import FixRecord
from agent_host.settings import LearningSettings
from mcp_server.runbooks import Solution


@dataclass(frozen=True)
class FixLesson:
    solution: str
    worked: int = 0  # times it worked here since it last failed
    failed: int = 0  # times it failed here since it last worked
    last_incident: str = ""


def lessons_from(fixes: Sequence[FixRecord]) -> dict[str, FixLesson]:
    """One lesson per solution from the target's fix records (newest first)."""
    by_solution: dict[str, list[FixRecord]] = {}
    for fix in fixes:
        by_solution.setdefault(fix.solution, []).append(fix)
    found: dict[str, FixLesson] = {}
    for solution, records in by_solution.items():
        first = records[0].outcome == "worked"
        run = 0
        for record in records:
            if (record.outcome == "worked") != first:
                break
            run += 1
        found[solution] = FixLesson(
            solution,
            worked=run if first else 0,
            failed=0 if first else run,
            last_incident=records[0].incident_id,
        )
    return found


def ranked(holding: Sequence[Solution], lessons: Mapping[str, FixLesson]) -> list[Solution]:
    """The candidates whose conditions hold, in the order memory would try them (stable)."""

    def key(solution: Solution) -> int:
        lesson = lessons.get(solution.id)
        return lesson.failed if lesson is not None and solution.follow is None else 0

    return sorted(holding, key=key)


def order_reason(first: Solution, chosen: Solution, lessons: Mapping[str, FixLesson]) -> str | None:
    """Why memory picked `chosen` over the runbook's first candidate (None when it did not)."""
    if chosen.id == first.id:
        return None
    skipped, picked = lessons.get(first.id), lessons.get(chosen.id)
    why = (
        [f"{first.id} failed for this target {skipped.failed}× (last {skipped.last_incident})"]
        if skipped
        else []
    )
    if picked and picked.worked:
        why.append(f"{chosen.id} worked here {picked.worked}× (last {picked.last_incident})")
    return f"memory: tries {chosen.id} before {first.id}: " + "; ".join(why)


def adjusted(
    solution: Solution, confidence: float, lessons: Mapping[str, FixLesson], settings: LearningSettings
) -> tuple[float, float, list[str]]:
    """(confidence, threshold, reasons) after what this target's past teaches about `solution`."""
    lesson = lessons.get(solution.id)
    threshold = solution.threshold
    if lesson is None:
        return confidence, threshold, []
    reasons = []
    if lesson.failed:
        lowered = round(max(0.0, confidence - settings.failure_penalty * lesson.failed), 3)
        reasons.append(
            f"memory: {solution.id} failed for this target {lesson.failed}× since it last worked "
            f"(last {lesson.last_incident}): confidence {confidence:g} → {lowered:g}"
        )
        confidence = lowered
    if lesson.worked:
        line = f"memory: {solution.id} worked for this problem here {lesson.worked}× (last {lesson.last_incident})"
        trusted = lesson.worked >= settings.trust_after and solution.risk == "low"
        if trusted and solution.approval != "always":
            lowered = round(max(settings.threshold_floor, threshold - settings.threshold_discount), 3)
            if lowered < threshold:
                line += f": threshold {threshold:g} → {lowered:g} (trusted after {settings.trust_after}×)"
                threshold = lowered
        reasons.append(line)
    return confidence, threshold, reasons
