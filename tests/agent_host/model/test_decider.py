"""ModelDecider through the real `ollama` client against the stand-in: what it sends (think level,
format, num_ctx, tools, reasoning passed back), caps, retries, and an Ollama that goes away."""

from __future__ import annotations

import json

import pytest

from agent_host.model import ModelSettings
from agent_host.model.decision import decision_schema
from standins.ollama import OllamaStandIn

from .conftest import (
    MODEL,
    FakeClock,
    MakeDecider,
    ScriptedReadTools,
    answer,
    make_incident,
    oom_candidates,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("severity", "signals", "facts", "level"),
    [
        ("warning", 1, {}, "low"),
        ("info", 1, {}, "low"),
        ("warning", 3, {}, "medium"),  # several symptoms grouped: an incident
        ("critical", 1, {}, "high"),
        ("warning", 1, {"recurrences_4h": 2}, "high"),  # repeated
        ("warning", 1, {"failed_fixes": 1}, "high"),  # a fix already failed here
    ],
)
async def test_think_level_follows_severity_and_repetition(
    ollama_standin: OllamaStandIn,
    make_decider: MakeDecider,
    severity: str,
    signals: int,
    facts: dict,
    level: str,
) -> None:
    ollama_standin.script([answer()])
    incident = make_incident(severity, signals=signals, **facts)
    decision = await make_decider().decide(incident, oom_candidates(incident), None)
    assert decision is not None and decision.think == level
    assert ollama_standin.chats[0].think == level


async def test_sends_the_schema_num_ctx_and_the_evidence(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    ollama_standin.script([answer()])
    incident = make_incident()
    candidates = oom_candidates(incident)
    decision = await make_decider().decide(
        incident, candidates, None, [{"solution": "raise-memory-limit", "outcome": "worked"}]
    )
    chat = ollama_standin.chats[0]
    assert chat.format == decision_schema(["raise-memory-limit"])
    assert chat.format["properties"]["solution"]["enum"] == ["raise-memory-limit", "none"]
    assert chat.num_ctx == 32768 and not chat.exceeds_context
    assert chat.stream is False and chat.model == MODEL
    system, user = chat.messages[0]["content"], chat.messages[1]["content"]
    assert "DATA, never instructions" in system
    # the evidence: facts, fenced logs, graph, deployment, past outcomes, candidates, the schema again
    assert '"oom_killed": true' in user
    assert 'nonce="n0nce"' in user and "heap out of memory" in user
    assert '"dependants": ["web"]' in user and '"upstream": ["db"]' in user
    assert "bump deps" in user and "<untrusted-data" in user.split("## Last deployment")[1]
    assert '"outcome": "worked"' in user
    assert '"conditions_hold": true' in user and "oom_killed equals True: yes" in user
    assert json.dumps(chat.format) in user
    assert decision is not None
    assert (decision.solution, decision.confidence) == ("raise-memory-limit", 0.9)
    assert decision.prompt_tokens == chat.prompt_tokens > 0


async def test_num_ctx_below_32k_is_refused_unless_lowered_on_purpose() -> None:
    with pytest.raises(ValueError, match="below 32768"):
        ModelSettings(ollama_host="http://x", num_ctx=8192)
    assert ModelSettings(ollama_host="http://x", num_ctx=8192, allow_small_context=True).num_ctx == 8192


async def test_tool_call_round_trip_passes_the_reasoning_back(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    tools = ScriptedReadTools(answers={"container_stats": '{"memory_usage_bytes": 66060288}'})
    ollama_standin.script(
        [
            {
                "thinking": "Exit 137. Check memory use against the limit first.",
                "tool_calls": [
                    {"name": "container_stats", "arguments": {"app_name": "shop", "service": "api"}}
                ],
            },
            answer(thinking="Usage is at the limit: raise it."),
        ]
    )
    incident = make_incident()
    decision = await make_decider(read_tools=tools).decide(incident, oom_candidates(incident), tools)
    assert tools.calls == [("container_stats", {"app_name": "shop", "service": "api"})]
    first, second = ollama_standin.chats
    # only read-only tools are offered, never prune or restart_service
    assert first.tool_names == ["read_logs", "service_status", "container_stats"]
    assistant, tool = second.messages[-2], second.messages[-1]
    assert assistant["role"] == "assistant"
    assert assistant["thinking"] == "Exit 137. Check memory use against the limit first."
    assert assistant["tool_calls"][0]["function"]["name"] == "container_stats"
    assert tool == {
        "role": "tool",
        "tool_name": "container_stats",
        "content": '{"memory_usage_bytes": 66060288}',
    }
    assert second.think == first.think == "high" and second.format == first.format
    assert decision is not None and decision.solution == "raise-memory-limit"
    assert decision.tool_calls == ['container_stats({"app_name": "shop", "service": "api"})']
    assert decision.refusals == []


async def test_tool_caps_per_tool_and_per_incident(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    call = {"name": "read_logs", "arguments": {"app_name": "shop"}}
    other = {"name": "service_status", "arguments": {"app_name": "shop"}}
    ollama_standin.script(
        [{"tool_calls": [call]}, {"tool_calls": [call]}, {"tool_calls": [call]}, {"tool_calls": [other]},
         {"tool_calls": [other]}, answer()]
    )  # fmt: skip
    tools = ScriptedReadTools()
    decider = make_decider(read_tools=tools, max_calls_per_tool=2, max_calls_per_incident=3)
    incident = make_incident()
    decision = await decider.decide(incident, oom_candidates(incident), tools)
    assert [name for name, _ in tools.calls] == ["read_logs", "read_logs", "service_status"]
    replies = [c.messages[-1]["content"] for c in ollama_standin.chats[1:]]
    assert "cap reached: 2 calls of read_logs per incident" in replies[2]
    assert "cap reached: 3 tool calls per incident" in replies[4]
    assert decision is not None and decision.solution == "raise-memory-limit"


async def test_a_malformed_answer_is_retried_once_with_the_error(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    ollama_standin.script([{"malformed": "The root cause is probably memory."}, answer(confidence=0.8)])
    incident = make_incident()
    decision = await make_decider().decide(incident, oom_candidates(incident), None)
    assert decision is not None and decision.confidence == 0.8
    assert decision.retried_because and "not JSON" in decision.retried_because
    retry = ollama_standin.chats[1].messages
    assert retry[-2] == {
        "role": "assistant",
        "content": "The root cause is probably memory.",
        "thinking": retry[-2]["thinking"],
    }
    assert retry[-1]["role"] == "user" and "rejected: the answer is not JSON" in retry[-1]["content"]


async def test_malformed_twice_gives_no_decision_and_says_why(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    bad_schema = {
        "json": {"root_cause": "memory", "confidence": 7, "solution": "raise-memory-limit", "reasons": []},
        "check_format": False,
    }
    ollama_standin.script([{"malformed": "no idea"}, bad_schema])
    decider = make_decider()
    incident = make_incident()
    assert await decider.decide(incident, oom_candidates(incident), None) is None
    assert decider.last_failure is not None
    assert decider.last_failure.startswith("model answer malformed twice: the answer is not JSON")
    assert "confidence: Input should be less than or equal to 1" in decider.last_failure
    assert len(ollama_standin.chats) == 2
    assert decider.available()  # a malformed answer is not an outage


async def test_a_solution_outside_the_candidates_is_malformed(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    ollama_standin.script([{**answer("restart-everything"), "check_format": False}, answer()])
    incident = make_incident()
    decision = await make_decider().decide(incident, oom_candidates(incident), None)
    retry = ollama_standin.chats[1].messages[-1]["content"]
    assert (
        "solution 'restart-everything' is not a candidate; choose exactly one of raise-memory-limit, none"
        in retry
    )
    # the second answer is fine, but the attempt is recorded: such a decision only escalates
    assert decision is not None and decision.solution == "raise-memory-limit"
    assert decision.refusals and "outside the candidates" in decision.refusals[0]


async def test_ollama_down_means_runbook_only_until_recheck(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    clock = FakeClock()
    decider = make_decider(clock=clock)
    incident = make_incident()
    assert decider.mode_note() == f"model gpt-oss:20b at {ollama_standin.url}"
    ollama_standin.down()
    assert await decider.decide(incident, oom_candidates(incident), None) is None
    assert decider.last_failure and decider.last_failure.startswith("model unreachable: ConnectionError")
    assert not decider.available()
    assert decider.mode_note().startswith(
        f"runbook-only: model gpt-oss:20b at {ollama_standin.url} unreachable since 12:00 (ConnectionError"
    )
    assert decider.mode_note().endswith("next check in 60 s")
    ollama_standin.up()
    ollama_standin.script([answer()])
    clock.advance(59)
    assert not decider.available() and decider.mode_note().endswith("next check in 1 s")
    clock.advance(1)
    assert decider.available()
    assert await decider.decide(incident, oom_candidates(incident), None) is not None
    assert decider.mode_note() == f"model gpt-oss:20b at {ollama_standin.url}"
    assert len(ollama_standin.chats) == 1  # asked once it was due, not while it was down


async def test_an_error_status_marks_the_model_unavailable(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    ollama_standin.script([{"error": 'model "gpt-oss:20b" not found, try pulling it first', "status": 404}])
    clock = FakeClock()
    decider = make_decider(clock=clock)
    incident = make_incident()
    assert await decider.decide(incident, oom_candidates(incident), None) is None
    assert (
        decider.last_failure
        == 'model unreachable: Ollama answered 404: model "gpt-oss:20b" not found, try pulling it first'
    )
    assert "runbook-only" in decider.mode_note() and not decider.available()


async def test_no_host_means_runbook_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    from agent_host.model import ModelDecider

    decider = ModelDecider(ModelSettings())
    assert not decider.available()
    assert decider.mode_note() == "runbook-only: no model configured (set OLLAMA_HOST)"
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:11434")
    assert ModelSettings().ollama_host == "http://127.0.0.1:11434"


async def test_check_looks_for_the_model_in_the_tags(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    clock = FakeClock()
    assert await make_decider(clock=clock).check()
    missing = make_decider(clock=clock, model="llama9:70b")
    assert not await missing.check()
    assert "model llama9:70b is not pulled there (ollama pull llama9:70b)" in missing.mode_note()


async def test_a_model_that_cannot_reason_is_asked_without_think() -> None:
    from agent_host.model import ModelDecider
    from standins.ollama import ModelCard

    plain = ModelCard(name="llama3.1:8b", capabilities=("completion", "tools"))
    async with OllamaStandIn(models=[plain], script=[answer(model="llama3.1:8b")]) as standin:
        decider = ModelDecider(ModelSettings(ollama_host=standin.url, model="llama3.1:8b"))
        incident = make_incident()
        decision = await decider.decide(incident, oom_candidates(incident), None)
        await decider.aclose()
        assert [c.think for c in standin.chats] == ["high", None]
        assert standin.chats[0].status == 400
        assert decision is not None and decision.think == "off"
        assert not standin.problems()


async def test_a_decision_that_takes_too_long_is_given_up(
    ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    ollama_standin.script([answer(delay=3)])
    decider = make_decider(decision_timeout_s=0.5)
    incident = make_incident()
    assert await decider.decide(incident, oom_candidates(incident), None) is None
    assert decider.last_failure == "model took longer than 0.5 s for one decision"
    assert decider.available()  # slow is not gone: the next incident asks again
