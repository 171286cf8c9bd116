"""apply_model: the model's pick under the runbook's policy — a candidate only, its confidence, the
same route rule, and code's escalations standing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_host.diagnosis.decide import Choice, apply_model, choose
from agent_host.diagnosis.flap import FlapVerdict
from agent_host.model import ModelDecision
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

from .conftest import OOM_FACTS

LIBRARY = RunbookLibrary.load()
NOTE = "model gpt-oss:20b at http://127.0.0.1:11434"


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    return AgentSettings(state_dir=tmp_path)


def pick(solution: str = "raise-memory-limit", confidence: float = 0.9, **extra: Any) -> ModelDecision:
    return ModelDecision(
        root_cause="heap outgrew the limit", confidence=confidence, solution=solution,
        reasons=["exit 137"], model="gpt-oss:20b", think="high", **extra,
    )  # fmt: skip


def decide(
    settings: AgentSettings, model: ModelDecision, facts: dict[str, Any] | None = None,
    flap: FlapVerdict | None = None, runbook: str = "oom-killed",
) -> Choice:  # fmt: skip
    facts = OOM_FACTS if facts is None else facts
    flap = flap or FlapVerdict()
    runbook_choice = choose(runbook, LIBRARY, facts, flap, settings, NOTE)
    return apply_model(runbook, runbook_choice, model, LIBRARY, facts, flap, settings, NOTE)


def test_a_sure_model_on_a_low_risk_candidate_whose_conditions_hold_acts(settings: AgentSettings) -> None:
    choice = decide(settings, pick(confidence=0.9))
    d = choice.decision
    assert (d.mode, d.route, d.solution, d.confidence, d.threshold) == (
        "model",
        "auto",
        "raise-memory-limit",
        0.9,
        0.7,
    )
    assert choice.solution is not None and choice.solution.id == "raise-memory-limit"
    assert d.reasons[0] == "model gpt-oss:20b (think high): root cause: heap outgrew the limit"
    assert "model: exit 137" in d.reasons and "runbook alone: raise-memory-limit → auto" in d.reasons
    assert d.mode_note == NOTE


def test_an_unsure_model_asks_a_human(settings: AgentSettings) -> None:
    d = decide(settings, pick(confidence=0.5)).decision
    assert (d.route, d.confidence) == ("approval", 0.5)
    assert "asks a human: confidence 0.5 < threshold 0.7" in d.reasons[-1]


def test_a_candidate_whose_conditions_do_not_hold_can_only_be_proposed(settings: AgentSettings) -> None:
    facts = {k: v for k, v in OOM_FACTS.items() if k != "proposed_memory_fits"}  # the dry run is unknown
    assert decide(settings, pick(), facts=facts).decision.route == "approval"
    d = decide(settings, pick(confidence=1.0), facts=facts).decision
    assert d.route == "approval" and "its conditions do not hold" in d.reasons[-1]


def test_code_escalations_stand(settings: AgentSettings) -> None:
    flap = FlapVerdict(
        may_act=False, escalate=True, reasons=["3 failed fixes in a row: target blocked for 60 min"]
    )
    d = decide(settings, pick(confidence=1.0), flap=flap).decision
    assert d.route == "escalate" and d.solution is None
    held = decide(settings, pick(confidence=1.0), facts={**OOM_FACTS, "oom_after_raise": True}).decision
    assert held.route == "escalate" and "a leak" in held.escalation[0]


def test_flap_needs_human_asks(settings: AgentSettings) -> None:
    flap = FlapVerdict(needs_human={"raise-memory-limit"}, reasons=["raise-memory-limit failed 2 times here"])
    d = decide(settings, pick(confidence=1.0), flap=flap).decision
    assert d.route == "approval" and "failed here before" in d.reasons[-1]


def test_none_and_non_candidates_escalate(settings: AgentSettings) -> None:
    none = decide(settings, pick("none")).decision
    assert none.route == "escalate" and "no candidate that fits" in none.escalation[0]
    other = decide(settings, pick("prune-all-volumes")).decision
    assert other.route == "escalate" and "not a candidate of oom-killed: refused" in other.escalation[0]


def test_refused_attempts_escalate_even_with_a_good_final_answer(settings: AgentSettings) -> None:
    model = pick(confidence=1.0, refusals=["the model called tool 'prune', which was not offered"])
    d = decide(settings, model).decision
    assert d.route == "escalate" and d.solution is None
    assert any("possible prompt injection" in r and "'prune'" in r for r in d.reasons)


def test_a_followed_runbook_applies_its_own_conditions(settings: AgentSettings) -> None:
    facts = {"worker_like": True, "upstream_down": ["redis"], "running": True, "signal_kind": "hung"}
    d = decide(
        settings, pick("fix-broker-first", confidence=1.0), facts=facts, runbook="hung-worker"
    ).decision
    # dependency-down's restart needs the target itself down: nothing there holds, a human looks
    assert (
        d.route == "escalate" and "follows dependency-down: no solution's conditions hold" in d.escalation[0]
    )
