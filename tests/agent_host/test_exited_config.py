"""A container that exited because its configuration is missing is escalated at once, not restarted:
the `exited` signal comes before `crash_loop`, so `exited-nonzero` must know it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_host.diagnosis.decide import choose
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

LIBRARY = RunbookLibrary.load()


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path)


def facts(patterns: list[str]) -> dict[str, object]:
    return {
        "exit_code": 1,
        "oom_killed": False,
        "upstream_down": [],
        "recurrences_4h": 0,
        "log_patterns": patterns,
    }


@pytest.mark.parametrize("pattern", ["missing_env", "config_error"])
def test_a_missing_configuration_escalates_instead_of_a_restart(
    settings: AgentSettings, pattern: str
) -> None:
    choice = choose("exited-nonzero", LIBRARY, facts([pattern]), FlapVerdict(), settings, "runbook only")
    assert choice.solution is None and choice.decision.route != "auto", choice.decision.reasons
    assert any("a restart cannot fix that" in reason for reason in choice.decision.escalation)


def test_a_transient_exit_is_still_restarted_once(settings: AgentSettings) -> None:
    choice = choose(
        "exited-nonzero", LIBRARY, facts(["connection_refused"]), FlapVerdict(), settings, "runbook only"
    )
    assert choice.solution is not None and choice.solution.id == "restart-once"
    assert choice.decision.route == "auto"
