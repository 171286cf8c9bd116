"""What a target's past fixes teach its next decision (diagnosis/feedback.py): a fix that failed
here is not tried again while an alternative holds, and loses confidence; a fix that worked is
tried first and, once trusted, acts at a lower threshold; every adjustment is in the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent_host.diagnosis.decide import Choice, choose
from agent_host.diagnosis.feedback import lessons_from
from agent_host.diagnosis.flap import judge
from agent_host.incidents.store import FixRecord
from agent_host.settings import AgentSettings, FlapSettings
from mcp_server.runbooks import RunbookLibrary

RUNBOOK = """
name: oom-two-ways
title: OOM, a restart first then more memory
description: test runbook with two fixes for one problem
severity: critical
trigger: {signals: [oom]}
context:
  - {id: status, do: look, tool: service_status, arguments: {app_name: "{app_name}", service: "{service}"}}
solutions:
  - id: restart
    title: Restart it (a one-off spike)
    when: [{fact: oom_killed, equals: true}]
    confidence: 0.8
    threshold: 0.7
    risk: low
    actions:
      - {do: restart, tool: restart_service, arguments: {app_name: "{app_name}", service: "{service}"}}
  - id: raise-memory-limit
    title: Raise the limit
    when: [{fact: oom_killed, equals: true}]
    confidence: 0.75
    threshold: 0.7
    risk: low
    actions:
      - {do: raise, tool: set_memory_limit, arguments: {app_name: "{app_name}", service: "{service}", memory: 64m}}
verify:
  window_s: 60
  checks: [{check: running}]
escalate_when:
  - the policy refuses the fix
"""
LIBRARY = RunbookLibrary.from_texts({"oom-two-ways": RUNBOOK})
FACTS = {"oom_killed": True}
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
NO_FLAP = FlapSettings(cooldown_s=0, backoff_base_s=0, backoff_max_s=0)


def fix(incident: str, solution: str, outcome: str, minutes_ago: float) -> FixRecord:
    return FixRecord(incident, solution, outcome, NOW - timedelta(minutes=minutes_ago))


def decide(tmp_path: Path, fixes: list[FixRecord]) -> Choice:
    settings = AgentSettings(state_dir=tmp_path, flap=NO_FLAP)
    verdict = judge(fixes, recurrences=len(fixes), settings=settings.flap, now=NOW)
    return choose("oom-two-ways", LIBRARY, FACTS, verdict, settings, "runbook only")


def test_with_no_past_the_runbook_order_stands(tmp_path: Path) -> None:
    choice = decide(tmp_path, [])
    assert choice.decision.solution == "restart" and choice.decision.route == "auto"
    assert not any(r.startswith("memory:") for r in choice.decision.reasons)


def test_a_fix_that_failed_here_gives_way_to_the_alternative_and_says_why(tmp_path: Path) -> None:
    choice = decide(tmp_path, [fix("inc-1", "restart", "failed", 5)])
    assert choice.decision.solution == "raise-memory-limit" and choice.decision.route == "auto"
    assert any(
        r.startswith(
            "memory: tries raise-memory-limit before restart: restart failed for this target 1× (last inc-1)"
        )
        for r in choice.decision.reasons
    ), choice.decision.reasons


def test_a_success_alone_does_not_reorder_the_runbook(tmp_path: Path) -> None:
    choice = decide(tmp_path, [fix("inc-1", "raise-memory-limit", "worked", 3)])
    assert choice.decision.solution == "restart", choice.decision.reasons  # the runbook's first


def test_the_fix_that_worked_after_one_that_failed_is_remembered_and_said(tmp_path: Path) -> None:
    past = [fix("inc-2", "raise-memory-limit", "worked", 3), fix("inc-1", "restart", "failed", 10)]
    choice = decide(tmp_path, past)
    assert choice.decision.solution == "raise-memory-limit" and choice.decision.route == "auto"
    reasons = " | ".join(choice.decision.reasons)
    assert "memory: raise-memory-limit worked for this problem here 1× (last inc-2)" in reasons
    assert choice.decision.threshold == 0.7  # trusted only after 2 successes


def test_two_successes_lower_the_threshold_within_policy(tmp_path: Path) -> None:
    past = [
        fix("inc-3", "raise-memory-limit", "worked", 1),
        fix("inc-2", "raise-memory-limit", "worked", 3),
        fix("inc-1", "restart", "failed", 9),
    ]
    choice = decide(tmp_path, past)
    assert choice.decision.solution == "raise-memory-limit"
    assert choice.decision.threshold == 0.6 and choice.decision.confidence == 0.75
    assert any("threshold 0.7 → 0.6 (trusted after 2×)" in r for r in choice.decision.reasons)


def test_a_failure_costs_confidence_and_two_make_it_a_humans_call(tmp_path: Path) -> None:
    # both fixes failed once: the one with fewer failures comes first, each loses 0.15
    once = decide(
        tmp_path, [fix("inc-2", "raise-memory-limit", "failed", 2), fix("inc-1", "restart", "failed", 8)]
    )
    assert once.decision.solution == "restart"  # runbook order among equals
    assert once.decision.confidence == 0.65 and once.decision.route == "approval", once.decision.reasons
    assert any("confidence 0.8 → 0.65" in r for r in once.decision.reasons)
    twice = decide(tmp_path, [fix("inc-2", "restart", "failed", 2), fix("inc-1", "restart", "failed", 8)])
    assert twice.decision.solution == "raise-memory-limit" and twice.decision.route == "auto"


def test_a_success_after_failures_clears_the_penalty() -> None:
    lessons = lessons_from([fix("inc-3", "restart", "worked", 1), fix("inc-2", "restart", "failed", 5),
                            fix("inc-1", "restart", "failed", 9)])  # fmt: skip
    assert (lessons["restart"].worked, lessons["restart"].failed) == (1, 0)
    lessons = lessons_from([fix("inc-3", "restart", "failed", 1), fix("inc-2", "restart", "worked", 5)])
    assert (lessons["restart"].worked, lessons["restart"].failed, lessons["restart"].last_incident) == (
        0,
        1,
        "inc-3",
    )
