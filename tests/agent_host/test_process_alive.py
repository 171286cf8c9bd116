"""`process_alive`: computed from the unhealthy detector's own probe of the container's port, and
what the unhealthy runbook does with it — a process that answers while its health check fails is a
check to fix by a human (escalated, never restarted); one that does not answer is restarted once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.facts import compute_facts
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

LIBRARY = RunbookLibrary.load()
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CHECK_IS_WRONG = "the process works but its health check fails"
ANSWERED = {"answered": True, "port": 8080, "kind": "http", "outcome": "ok", "status_code": 200}
REFUSED = {"answered": False, "port": 8080, "kind": "http", "outcome": "refused", "status_code": None}


def unhealthy(own_probe: dict[str, Any] | None) -> dict[str, Any]:
    evidence: dict[str, Any] = {"failing_streak": 3, "own_probe": own_probe}
    if own_probe is None:
        evidence["own_probe_note"] = "no port to probe"
    return {
        "kind": "unhealthy",
        "severity": "warning",
        "target": {"kind": "container", "app_name": "shop", "service": "api"},
        "evidence": evidence,
    }


def facts_for(own_probe: dict[str, Any] | None, health: str = "unhealthy") -> dict[str, Any]:
    """The facts of an unhealthy api whose check asks the wrong port; nothing else in the stack is down."""
    context = {
        "status": {
            "tool": "service_status",
            "ok": True,
            "structured": {
                "containers": [
                    {
                        "status": "running",
                        "health": health,
                        "restarts": 0,
                        "last_probe": "wget: can't connect to remote host (127.0.0.1): Connection refused",
                    }
                ]
            },
        }
    }
    compose_health = {
        "services": [{"service": "api", "verdict": "degraded"}, {"service": "db", "verdict": "ok"}]
    }
    return compute_facts(
        signals=[unhealthy(own_probe)], target={"app_name": "shop", "service": "api"}, context=context,
        graph=None, health=compose_health, history={}, now=NOW,
    )  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path)


def test_process_alive_follows_the_own_probe() -> None:
    assert facts_for(ANSWERED)["process_alive"] is True
    # a 404 is still an answer: the process reads requests and writes responses
    assert facts_for({**ANSWERED, "status_code": 404})["process_alive"] is True
    # a TCP-only probe that connected, and a non-HTTP reply, are answers too
    assert facts_for({**ANSWERED, "kind": "tcp", "status_code": None})["process_alive"] is True
    assert facts_for({**ANSWERED, "outcome": "not_http", "status_code": None})["process_alive"] is True
    assert facts_for(REFUSED)["process_alive"] is False
    assert facts_for({**REFUSED, "outcome": "no_answer"})["process_alive"] is False


def test_process_alive_stays_unknown_without_a_probe_a_5xx_or_a_healthy_container() -> None:
    assert "process_alive" not in facts_for(None)
    # it answers, but reports a failure itself: the health check may well be right
    assert "process_alive" not in facts_for({**ANSWERED, "status_code": 503})
    # the context shows it healthy again: "alive although unhealthy" no longer applies
    assert "process_alive" not in facts_for(ANSWERED, health="healthy")
    # the quick signal raised before the evidence was gathered carries no probe
    assert "process_alive" not in facts_for({"evidence_pending": True})


def test_a_working_process_with_a_failing_check_is_escalated_not_restarted(settings: AgentSettings) -> None:
    facts = facts_for(ANSWERED)
    assert facts["upstream_down"] == [] and facts["health"] == "unhealthy"
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    decision = choice.decision
    assert any(CHECK_IS_WRONG in reason for reason in decision.escalation), decision.reasons
    assert decision.solution != "restart-once" and choice.solution is None
    assert decision.route != "auto"


def test_a_process_that_does_not_answer_is_restarted_once(settings: AgentSettings) -> None:
    choice = choose("unhealthy", LIBRARY, facts_for(REFUSED), FlapVerdict(), settings, "runbook only")
    decision = choice.decision
    assert decision.escalation == []
    assert (decision.solution, decision.route) == ("restart-once", "auto")


def test_a_down_dependency_comes_before_blaming_the_check(settings: AgentSettings) -> None:
    facts = {**facts_for(ANSWERED), "upstream_down": ["db"]}
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.decision.escalation == []
    assert choice.retarget == "db"
