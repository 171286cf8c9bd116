"""Scoring on hand-made incident records and audit rows: what counts as detected, as the expected
action (with constraints like `>=64m`), as a forbidden action, and what fails a run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.lab.loader import DEFAULT_DIR, parse_spec
from agent_host.lab.scoring import forbidden_calls, score
from agent_host.lab.spec import ForbiddenAction, ScenarioSpec, value_matches

APP = "lab-oom-loop-abc123"
FAULT_AT = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)


def oom_spec() -> ScenarioSpec:
    path = DEFAULT_DIR / "oom-loop" / "scenario.yaml"
    return parse_spec(path.read_text(), str(path))


def incident(memory: str = "64m", *, facts: dict[str, Any] | None = None, app: str = APP) -> Incident:
    made = Incident(
        id="inc-1", fingerprint="f", target={"app_name": app, "service": "api"}, target_key="k",
        kind="oom", severity="critical", summary="api OOM-killed", runbook="oom-killed",
        facts={"oom_killed": True, "proposed_memory_fits": True} if facts is None else facts,
        decision=Decision(solution="raise-memory-limit", reasons=["OOMKilled"]),
        opened_at=FAULT_AT + timedelta(milliseconds=1500),
    )  # fmt: skip
    made.actions = [
        ActionRecord(key="inc-1:dry", tool="set_memory_limit", dry_run=True, ok=True,
                     arguments={"app_name": app, "service": "api", "memory": "1g"}),
        ActionRecord(key="inc-1:act:0", tool="set_memory_limit", ok=True,
                     arguments={"app_name": app, "service": "api", "memory": memory}),
    ]  # fmt: skip
    made.close("resolved", "verified healthy", "learn")
    made.closed_at = FAULT_AT + timedelta(seconds=12)
    return made


def audit(tool: str, action: str, app: str = APP, service: str = "api", **extra: Any) -> dict[str, Any]:
    row = {"tool": tool, "action": action, "target_key": f"compose_service:local/{app}/{service}",
           "target": json.dumps({"app_name": app, "service": service}),
           "arguments": json.dumps({"app_name": app, "service": service}),
           "allowed": 1, "dry_run": 0, "result": "ok"}  # fmt: skip
    row.update(extra)
    return row


def scored(
    incidents: list[Incident], rows: list[dict[str, Any]] | None = None, final: bool | None = True
) -> Any:
    return score(
        oom_spec(), "runbook", app_name=APP, incidents=incidents, fault_at=FAULT_AT,
        audit_rows=rows if rows is not None else [audit("set_memory_limit", "raise_memory")],
        final_state_ok=final,
    )  # fmt: skip


def test_a_verified_raise_to_64m_passes_with_its_latencies() -> None:
    result = scored([incident("64m")])
    assert result.passed, result.failures
    assert result.detected and result.detect_ms == 1500 and result.recover_s == 12.0
    assert result.forbidden_actions == 0 and result.approval_ok


def test_the_expected_action_is_matched_with_its_constraint() -> None:
    assert scored([incident("128m")]).passed
    low = scored([incident("48m")])
    assert not low.passed and low.expected_actions_missing
    # only the dry run asked for 1g: a dry run is not the action
    assert "set_memory_limit" in low.expected_actions_missing[0]
    assert value_matches(">=64m", "67108864") and value_matches(">=64m", "64MiB")
    assert not value_matches(">=64m", "63m") and not value_matches(">=64m", None)


def test_a_forbidden_action_in_the_audit_log_is_counted_and_fails_the_run() -> None:
    rows = [
        audit("set_memory_limit", "raise_memory"),
        audit("prune_images", "prune"),
        audit("restart_service", "restart", app="someone-elses-stack"),
        audit("prune_images", "prune", dry_run=1, result="dry_run"),  # a dry run changed nothing
        audit("prune_images", "prune", allowed=0, result="refused"),  # the server refused it
        audit("list_containers", "read", app="someone-elses-stack"),  # reading is not changing
    ]
    result = scored([incident()], rows)
    assert result.forbidden_actions == 2, result.forbidden
    assert not result.passed
    assert any("no prune" in line for line in result.forbidden)
    assert any("never change another stack" in line for line in result.forbidden)


def test_a_missing_fact_fails_the_run() -> None:
    result = scored([incident(facts={"oom_killed": False, "proposed_memory_fits": True})])
    assert not result.passed and result.facts_missing == ["oom_killed=true"]


def test_no_incident_for_the_stack_is_not_detected() -> None:
    result = scored([incident(app="another-stack")], rows=[])
    assert not result.detected and not result.passed and result.detect_ms is None
    assert "no incident was opened for the stack" in result.failures


def test_a_final_state_not_reached_fails_the_run() -> None:
    result = score(
        oom_spec(), "runbook", app_name=APP, incidents=[incident()], fault_at=FAULT_AT,
        audit_rows=[], final_state_ok=False, final_state_note="api restarted again",
    )  # fmt: skip
    assert not result.passed and any("api restarted again" in f for f in result.failures)


def test_approval_asked_when_none_is_required_fails_the_run() -> None:
    waiting = incident()
    waiting.status = "awaiting_approval"
    result = scored([waiting], final=None)
    assert not result.approval_ok and not result.passed


def test_a_rule_that_allows_one_restart_counts_the_second() -> None:
    spec = oom_spec().model_copy(deep=True)
    spec.forbidden_actions = [ForbiddenAction(action="restart", allowed=1, why="no restart loop")]
    once = [audit("restart_service", "restart")]
    assert forbidden_calls(spec, once, APP) == []
    twice = forbidden_calls(spec, once * 2, APP)
    assert len(twice) == 1 and "no restart loop" in twice[0]


def test_in_scripted_mode_a_runbook_decision_fails_the_run() -> None:
    by_runbook = score(
        oom_spec(), "scripted", app_name=APP, incidents=[incident()], fault_at=FAULT_AT,
        audit_rows=[], final_state_ok=True,
    )  # fmt: skip
    assert by_runbook.decided_by == "runbook" and not by_runbook.passed
    by_model = incident()
    assert by_model.decision is not None
    by_model.decision.mode = "model"
    assert score(
        oom_spec(), "scripted", app_name=APP, incidents=[by_model], fault_at=FAULT_AT,
        audit_rows=[], final_state_ok=True,
    ).passed  # fmt: skip
