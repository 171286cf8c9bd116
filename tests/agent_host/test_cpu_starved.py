"""A service starved of CPU by a noisy neighbour (found by the lab's noisy-neighbour scenario: the
agent restarted the starved api, which fixes nothing): from the stats of the whole app,
`cpu_starved_by` names the other services that burn a CPU while the unhealthy one barely runs; the
unhealthy runbook then moves the blame to the busiest of them (cpu-saturation applies to it, and
its stuck loop is restarted only once a human approves). Every other case keeps its old decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.facts import compute_facts
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.settings import AgentSettings
from mcp_server.runbooks.model import Solution
from tests.agent_host.test_process_alive import LIBRARY, NOW, REFUSED, unhealthy


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path)


def stats(*rows: tuple[str, float]) -> dict[str, Any]:
    """A container_stats answer: one running container per (service, cpu_percent)."""
    return {"containers": [{"service": s, "cpu_percent": cpu, "running": True} for s, cpu in rows]}


def starved_facts(
    app_rows: list[tuple[str, float]] | None,
    own_cpu: float = 0.3,
    own_probe: dict[str, Any] | None = REFUSED,
) -> dict[str, Any]:
    """An unhealthy api (its port refuses our probe), its own stats, and the whole app's when given."""
    context: dict[str, Any] = {
        "status": {
            "tool": "service_status",
            "ok": True,
            "structured": {"containers": [{"status": "running", "health": "unhealthy", "restarts": 0}]},
        },
        "stats": {
            "tool": "container_stats",
            "arguments": {"app_name": "shop", "service": "api"},
            "ok": True,
            "structured": stats(("api", own_cpu)),
        },
    }
    if app_rows is not None:
        context["neighbours"] = {
            "tool": "container_stats",
            "arguments": {"app_name": "shop"},
            "ok": True,
            "structured": stats(*app_rows),
        }
    health = {
        "services": [{"service": "api", "verdict": "degraded"}, {"service": "reindex", "verdict": "ok"}]
    }
    return compute_facts(
        signals=[unhealthy(own_probe)], target={"app_name": "shop", "service": "api"}, context=context,
        graph=None, health=health, history={}, now=NOW,
    )  # fmt: skip


def test_the_busiest_neighbour_burning_a_cpu_is_named() -> None:
    facts = starved_facts([("api", 0.3), ("web", 30.0), ("reindex", 55.0), ("db", 2.0)])
    assert facts["cpu_starved_by"] == ["reindex", "web"]
    assert facts["cpu_percent"] == 0.3  # its own CPU, not the app's busiest container


def test_a_service_that_runs_is_not_starved() -> None:
    facts = starved_facts([("api", 40.0), ("reindex", 90.0)], own_cpu=40.0)
    assert facts["cpu_starved_by"] == []


def test_no_stats_of_the_whole_app_leaves_it_unknown() -> None:
    assert "cpu_starved_by" not in starved_facts(None)


def test_quiet_neighbours_are_not_blamed() -> None:
    assert starved_facts([("api", 0.3), ("db", 3.0)])["cpu_starved_by"] == []


def test_the_unhealthy_runbook_blames_the_neighbour(settings: AgentSettings) -> None:
    facts = starved_facts([("api", 0.3), ("reindex", 55.0)])
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.retarget == "reindex"
    assert choice.runbook is not None and choice.runbook.name == "cpu-saturation"
    assert choice.solution is None  # nothing is done to the api


def test_without_a_hog_the_api_is_still_restarted_once(settings: AgentSettings) -> None:
    facts = starved_facts([("api", 0.3), ("db", 3.0)])
    choice = choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.retarget is None
    assert (choice.decision.solution, choice.decision.route) == ("restart-once", "auto")


def test_a_down_dependency_still_comes_first(settings: AgentSettings) -> None:
    facts = {**starved_facts([("api", 0.3), ("reindex", 55.0)]), "upstream_down": ["db"]}
    assert choose("unhealthy", LIBRARY, facts, FlapVerdict(), settings, "x").retarget == "db"


def test_the_blamed_stuck_job_is_restarted_only_with_approval(settings: AgentSettings) -> None:
    """After the retarget: the job's own facts (a stuck loop in its logs, half a CPU on a busy host)."""
    facts = {"signal_kind": "unhealthy", "log_patterns": ["stuck_loop"], "cpu_percent": 48.0}
    choice = choose("cpu-saturation", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert (choice.decision.solution, choice.decision.route) == ("restart-stuck-hog", "approval")


def test_a_busy_service_without_a_stuck_loop_is_not_restarted(settings: AgentSettings) -> None:
    facts = {"signal_kind": "cpu_saturation", "log_patterns": [], "cpu_percent": 95.0}
    choice = choose("cpu-saturation", LIBRARY, facts, FlapVerdict(), settings, "runbook only")
    assert choice.solution is None


def test_apply_to_a_hog_needs_a_runbook_to_follow() -> None:
    with pytest.raises(ValueError, match="apply_to: cpu_hog needs follow"):
        Solution.model_validate(
            {
                "id": "x",
                "title": "x",
                "confidence": 0.5,
                "risk": "low",
                "apply_to": "cpu_hog",
                "actions": [{"do": "x", "tool": "restart_service"}],
            }
        )
