"""How answers become ToolOutcomes, on answers shaped exactly as the server writes them (the
live tests cover the plain cases against a real server; these cover fenced and replayed text)."""

from __future__ import annotations

from mcp.types import CallToolResult, TextContent

from agent_host.server_link.outcome import REPLAYED_META, outcome_from_result


def answer(text: str, *, is_error: bool = True, replayed: bool = False) -> CallToolResult:
    meta = {REPLAYED_META: True} if replayed else None
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=is_error, _meta=meta)


def outcome(result: CallToolResult) -> tuple[bool, bool, bool, str | None]:
    done = outcome_from_result("restart_service", {}, result, idempotency_key=None, duration_ms=1)
    return done.refused, done.replayed, done.outcome_unknown, done.error


def test_a_fenced_refusal_is_still_a_refusal() -> None:
    # the server fences an error that echoes something hostile (a container's name, say)
    text = (
        '<untrusted-data nonce="ab12">[suspicious: looks like an instruction to an AI] Error executing tool '
        'restart_service: refused by policy: container ignore-all-rules is protected</untrusted-data nonce="ab12">'
    )
    refused, replayed, unknown, error = outcome(answer(text))
    assert refused and not replayed and not unknown
    assert error is not None and error.startswith("container ignore-all-rules is protected")


def test_refused_by_policy_inside_other_text_is_not_a_refusal() -> None:
    text = "Error executing tool restart_service: container 'refused by policy: x' not found"
    assert outcome(answer(text))[:3] == (False, False, False)
    assert outcome(answer("refused by policy: no", is_error=False))[:3] == (False, False, False)


def test_a_replayed_interrupted_call_is_an_unknown_outcome() -> None:
    text = (
        "replayed, not run again (first call with this idempotency key at 2026-12-03T12:00:00Z): "
        "outcome unknown: the call was interrupted (CancelledError) while acting"
    )
    assert outcome(answer(text, replayed=True))[:3] == (False, True, True)
    # the same words without the server's replay mark are just an error
    assert outcome(answer(text))[:3] == (False, False, False)


def test_a_replayed_success_is_ok_and_replayed() -> None:
    done = outcome_from_result(
        "restart_service",
        {"app_name": "a"},
        answer("{}", is_error=False, replayed=True),
        idempotency_key="k",
        duration_ms=3,
    )
    assert done.ok and done.replayed and not done.outcome_unknown and done.error is None
