"""Memory close to the limit is raised at once, not asked about (found by the lab's memory-creep
scenario: the runbook asked a human, and the creep reaches the limit before anyone answers; after
the kill, oom-killed makes the same raise alone). A second raise, a leak, still goes to a human."""

from __future__ import annotations

from pathlib import Path

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

LIBRARY = RunbookLibrary.load()


def facts(raised_before: bool) -> dict[str, object]:
    return {
        "memory_percent": 93.0,
        "proposed_memory": "128m",
        "proposed_memory_fits": True,
        "memory_raised_before": raised_before,
        "memory_limit": "64m",
    }


def test_a_first_raise_before_the_kill_acts_alone(tmp_path: Path) -> None:
    settings = AgentSettings(state_dir=tmp_path)
    choice = choose("memory-pressure", LIBRARY, facts(False), FlapVerdict(), settings, "runbook only")
    assert choice.solution is not None and choice.solution.id == "raise-memory-limit"
    assert choice.decision.route == "auto", choice.decision.reasons


def test_a_second_raise_is_a_leak_for_a_human(tmp_path: Path) -> None:
    settings = AgentSettings(state_dir=tmp_path)
    choice = choose("memory-pressure", LIBRARY, facts(True), FlapVerdict(), settings, "runbook only")
    assert choice.decision.route != "auto", choice.decision.reasons
