"""An unhealthy container with no port of its own to probe (a worker, or a `network_mode:
service:x` sidecar left in the old namespace of a restarted parent — found by the lab's
orphaned-network-mode scenario): Docker's check is the only evidence, so the unhealthy runbook
restarts it once instead of escalating for want of a probe. Likewise a port that stopped answering
the server's own probes (an `unresponsive` signal). A probe that answers still escalates, and a
down dependency still comes first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.facts import compute_facts
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.settings import AgentSettings
from tests.agent_host.test_process_alive import ANSWERED, LIBRARY, NOW, facts_for


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path)


def test_an_unhealthy_container_without_a_port_is_restarted_once(settings: AgentSettings) -> None:
    facts = facts_for(None)
    assert "process_alive" not in facts and facts["health"] == "unhealthy"
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.decision.escalation == []
    assert (choice.decision.solution, choice.decision.route) == ("restart-once-unprobed", "auto")


def test_a_probe_that_answers_still_escalates(settings: AgentSettings) -> None:
    choice = choose("unhealthy", LIBRARY, facts_for(ANSWERED), FlapVerdict(), settings, "runbook only")
    assert choice.decision.route != "auto" and choice.solution is None


def test_a_healthy_again_container_is_not_restarted(settings: AgentSettings) -> None:
    choice = choose("unhealthy", LIBRARY, facts_for(None, health="healthy"), FlapVerdict(), settings, "x")
    assert choice.decision.solution != "restart-once-unprobed"


def test_a_down_dependency_still_comes_first(settings: AgentSettings) -> None:
    facts = {**facts_for(None), "upstream_down": ["db"]}
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.retarget == "db"


def unresponsive_facts(health: str = "none") -> dict[str, Any]:
    """An api whose port stopped answering the server's own probes (no Docker health check)."""
    signal = {
        "kind": "unresponsive",
        "severity": "critical",
        "target": {"kind": "container", "app_name": "shop", "service": "api"},
        "evidence": {
            "ports": [{"port": 8080, "kind": "http", "outcome": "refused", "consecutive_failures": 2}]
        },
    }
    context = {
        "status": {
            "tool": "service_status",
            "ok": True,
            "structured": {"containers": [{"status": "running", "health": health, "restarts": 0}]},
        }
    }
    compose_health = {"services": [{"service": "api", "verdict": "ok"}, {"service": "db", "verdict": "ok"}]}
    return compute_facts(
        signals=[signal], target={"app_name": "shop", "service": "api"}, context=context,
        graph=None, health=compose_health, history={}, now=NOW,
    )  # fmt: skip


def test_a_port_that_stopped_answering_our_probes_is_restarted_once(settings: AgentSettings) -> None:
    """Found by the lab's domain-down-behind-proxy scenario: an unresponsive signal (no health
    check, so no `process_alive`) escalated with "no solution's conditions hold"."""
    choice = choose("unhealthy", LIBRARY, unresponsive_facts(), FlapVerdict(), settings, "runbook only")
    assert choice.decision.escalation == []
    assert (choice.decision.solution, choice.decision.route) == ("restart-unresponsive", "auto")


def test_an_unresponsive_service_behind_a_down_dependency_is_not_restarted(settings: AgentSettings) -> None:
    facts = {**unresponsive_facts(), "upstream_down": ["db"]}
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.retarget == "db"
