"""A container that dies minutes after a deploy is rolled back (with a human's approval: a rollback
recreates the whole stack), not restarted: the `exited` signal comes before `crash_loop`, so
`exited-nonzero` must look at the deployments too (found by the lab's bad-deploy-rollback scenario,
where it restarted a v2.4.0 that panicked at every start)."""

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


def facts(**extra: object) -> dict[str, object]:
    return {"exit_code": 2, "oom_killed": False, "upstream_down": [], "recurrences_4h": 0,
            "log_patterns": [], **extra}  # fmt: skip


def test_the_runbook_reads_the_deployments() -> None:
    book = LIBRARY.get("exited-nonzero")
    assert book is not None
    assert "deployment_history" in [step.tool for step in book.context]


def test_dying_after_a_deploy_asks_to_roll_back(settings: AgentSettings) -> None:
    after_deploy = facts(crashed_after_deploy=True, rollback_available=True)
    choice = choose("exited-nonzero", LIBRARY, after_deploy, FlapVerdict(), settings, "runbook only")
    assert choice.solution is not None and choice.solution.id == "roll-back-bad-deploy"
    assert [a.tool for a in choice.solution.actions] == ["rollback"]
    assert choice.decision.route == "approval", choice.decision.reasons


def test_no_recent_deploy_or_nothing_to_roll_back_to_is_still_restarted_once(settings: AgentSettings) -> None:
    for quiet in (
        facts(),  # no Dokploy: no deployment facts at all
        facts(crashed_after_deploy=False, rollback_available=True),
        facts(crashed_after_deploy=True, rollback_available=False),
    ):
        choice = choose("exited-nonzero", LIBRARY, quiet, FlapVerdict(), settings, "runbook only")
        assert choice.solution is not None and choice.solution.id == "restart-once"
        assert choice.decision.route == "auto"
