"""A human confirms destructive actions, on both MCP protocols, or they do not run (issue 12, item 1).

Before: a client without elicitation, or one on protocol 2026-07-28 (the SDK `Client`'s default,
which has no mid-call server requests), got `stop_compose`, `exec_diagnostic` and
`prune(dry_run=false)` executed with nobody asked. Now:
- 2026-07-28: the call answers with an input-required result (the question), the client asks its
  human and retries with the answer; the retry acts exactly once, and the answer is bound to that
  exact call (a replay asks again, another call cannot use it).
- 2025-11-25 and older: a standalone elicitation request mid-call.
- A client that cannot ask: refused with `needs_confirmation`, saying how to get it approved.
Everything runs on the real engine; the gate-level rules are checked on a gate alone.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import pytest
from mcp import Client, MCPError, types
from mcp.client.session import ClientRequestContext

from mcp_server.safety import ActionRequest, Decision, Safety, SafetySettings, Target
from mcp_server.safety.gate import AwaitingConfirmation, ConfirmAnswer
from mcp_server.server import build_server
from mcp_server.server.confirmation import returns_questions
from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import audit_rows, state

act_standin, api, engine, make_container = fx.act_standin, fx.api, fx.engine, fx.make_container

NEW, OLD = "2026-07-28", "2025-11-25"  # the SDK Client's default, and mode="legacy"
PROTOCOLS = [NEW, OLD]
ADMIN = {"mode": "admin"}
HOW_TO_GET_IT_APPROVED = ("MCP elicitation", "agent host's approvals", "by hand")


@pytest.fixture(scope="module")
def shop(api: fx.StandInAPI) -> tuple[str, str]:
    return api.deployed_compose("confirm")


def containers(app: str) -> list[str]:
    return [f"{app}-api-1", f"{app}-db-1"]


@contextlib.asynccontextmanager
async def connect(
    settings: Settings,
    protocol: str,
    human: Literal["accept", "decline"] | None = None,
    asked: list[str] | None = None,
) -> AsyncIterator[Client]:
    """An in-process client on `protocol`. With `human` it declares elicitation and answers every
    question that way (recording it in `asked`); without, it declares no elicitation."""

    async def answer(_: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        if asked is not None:
            asked.append(params.message)
        if human == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action="decline")

    server = build_server(settings, run_detectors=False)
    mode: dict[str, Any] = {"mode": "legacy"} if protocol == OLD else {}  # NEW is the default
    async with Client(server, elicitation_callback=answer if human else None, **mode) as client:
        assert client.protocol_version == protocol
        yield client


async def call_tool(client: Client, tool: str, args: dict[str, Any]) -> tuple[bool, str, dict[str, Any]]:
    """(is_error, text, structured result) of one call, as `mcp.Client.call_tool` drives it."""
    result = await client.call_tool(tool, args)
    text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
    return result.is_error, text, result.structured_content or {}


def rows_of(rows: list[dict[str, Any]], tool: str) -> list[tuple[str, str]]:
    """(result, code) of `tool`'s audit rows that were not dry runs, oldest first."""
    return [(r["result"], r["code"]) for r in rows if r["tool"] == tool and not r["dry_run"]]


def exec_starts(engine: docker.DockerClient, container: str, since: int) -> int:
    """How many commands Docker started inside `container` since `since` (its own event log)."""
    events = engine.events(
        since=since, until=int(time.time()) + 1, decode=True, filters={"container": container}
    )
    return sum(1 for e in events if str(e.get("Action", "")).startswith("exec_start"))


# -- on the real engine ---------------------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.anyio
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_human_who_declines_stops_nothing(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
    protocol: str,
) -> None:
    _, app = shop
    asked: list[str] = []
    async with connect(make_settings(act_standin), protocol, "decline", asked) as client:
        is_error, text, _ = await call_tool(client, "stop_compose", {"app_name": app})
        rows = await audit_rows(client)
    assert is_error and "a human declined stop" in text and "Do not retry" in text
    assert len(asked) == 1 and asked[0].startswith(f"Stop compose project {app} on host local?")
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]
    asked_first = [("refused", "awaiting_confirmation")] if protocol == NEW else []
    assert rows_of(rows, "stop_compose") == [*asked_first, ("refused", "declined")]


@pytest.mark.docker
@pytest.mark.anyio
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_human_who_accepts_stops_it_once(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
    protocol: str,
) -> None:
    compose_id, app = shop
    asked: list[str] = []
    async with connect(make_settings(act_standin), protocol, "accept", asked) as client:
        is_error, text, stopped = await call_tool(client, "stop_compose", {"app_name": app})
        assert not is_error, text
        assert [state(engine, n) for n in containers(app)] == ["exited", "exited"]
        assert api.compose(compose_id)["composeStatus"] == "idle"  # Dokploy stopped it
        is_error, text, _ = await call_tool(client, "start_compose", {"app_name": app})  # not asked
        assert not is_error, text
        rows = await audit_rows(client)
    assert stopped["ok"] and {(c["status_before"], c["status_after"]) for c in stopped["containers"]} == {
        ("running", "exited")
    }
    assert len(asked) == 1
    asked_first = [("refused", "awaiting_confirmation")] if protocol == NEW else []
    assert rows_of(rows, "stop_compose") == [*asked_first, ("ok", "allowed")]
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]


@pytest.fixture
def junk(make_container: Callable[..., Any]) -> dict[str, str]:
    """A running container to exec in and stop, and a stopped one only a prune would remove."""
    label = f"act-tools.confirm={secrets.token_hex(4)}"
    key, value = label.split("=")
    return {
        "running": make_container(labels={key: value}).name,
        "stopped": make_container(stopped=True, labels={key: value}).name,
        "label": label,
    }


@pytest.mark.docker
@pytest.mark.anyio
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_client_that_cannot_ask_is_refused_and_told_how_to_get_approval(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    shop: tuple[str, str],
    engine: docker.DockerClient,
    junk: dict[str, str],
    protocol: str,
) -> None:
    """The attack of issue 12: stop, exec and a real prune from a client without elicitation."""
    _, app = shop
    since = int(time.time()) - 1
    attempts = {
        "stop_compose": {"app_name": app},
        "exec_diagnostic": {"container": junk["running"], "command": "free -m"},
        "prune": {"what": ["containers"], "label": junk["label"], "dry_run": False},
    }
    async with connect(make_settings(act_standin, safety=ADMIN), protocol) as client:
        answers = {tool: await call_tool(client, tool, args) for tool, args in attempts.items()}
        dry = await call_tool(client, "stop_compose", {"app_name": app, "dry_run": True})
        rows = await audit_rows(client)
    for tool, (is_error, text, _) in answers.items():
        assert is_error and "needs a human's confirmation and this connection cannot ask one" in text, tool
        assert all(hint in text for hint in HOW_TO_GET_IT_APPROVED), text
        assert rows_of(rows, tool) == [("refused", "needs_confirmation")], tool
    assert [state(engine, n) for n in containers(app)] == ["running", "running"]
    assert exec_starts(engine, junk["running"], since) == 0
    assert state(engine, junk["stopped"]) == "created"  # not pruned
    assert not dry[0] and dry[2]["dry_run"]  # a dry run needs nobody: it changes nothing


@pytest.mark.docker
@pytest.mark.anyio
async def test_the_new_protocol_acts_once_and_a_replayed_answer_asks_again(
    make_settings: Callable[..., Settings], engine: docker.DockerClient, junk: dict[str, str]
) -> None:
    """The rounds by hand: question, answer, one exec; the same retry again is a new question."""
    container, since = junk["running"], int(time.time()) - 1
    args = {"container": container, "command": "free -m"}
    async with connect(make_settings(None, safety=ADMIN), NEW, "accept") as client:
        question = await client.session.call_tool("exec_diagnostic", args, allow_input_required=True)
        assert isinstance(question, types.InputRequiredResult) and question.input_requests
        [(key, request)] = question.input_requests.items()
        assert isinstance(request, types.ElicitRequest)
        assert request.params.message.startswith(f"Exec container {container} on host local?")
        assert question.request_state and "free -m" not in question.request_state  # sealed
        assert exec_starts(engine, container, since) == 0  # nothing ran on round one
        yes = {key: types.ElicitResult(action="accept", content={"confirm": True})}

        async def retry(answers: types.InputResponses | None, state: str | None) -> Any:
            return await client.session.call_tool(
                "exec_diagnostic",
                args,
                input_responses=answers,
                request_state=state,
                allow_input_required=True,
            )

        done = await retry(yes, question.request_state)
        assert isinstance(done, types.CallToolResult) and not done.is_error, done
        assert exec_starts(engine, container, since) == 1
        replayed = await retry(yes, question.request_state)
        unbound = await retry(yes, None)  # an answer without the question it belongs to
        rows = await audit_rows(client)
    assert (
        isinstance(replayed, types.InputRequiredResult) and replayed.request_state != question.request_state
    )
    assert isinstance(unbound, types.InputRequiredResult)
    assert exec_starts(engine, container, since) == 1  # exactly once
    assert rows_of(rows, "exec_diagnostic") == [
        ("refused", "awaiting_confirmation"),
        ("ok", "allowed"),
        ("refused", "awaiting_confirmation"),
        ("refused", "awaiting_confirmation"),
    ]


@pytest.mark.docker
@pytest.mark.anyio
async def test_an_answer_cannot_approve_another_call(
    make_settings: Callable[..., Settings], engine: docker.DockerClient, junk: dict[str, str]
) -> None:
    container, since = junk["running"], int(time.time()) - 1
    async with connect(make_settings(None, safety=ADMIN), NEW, "accept") as client:
        asked = {"container": container, "command": "free -m"}
        question = await client.session.call_tool("exec_diagnostic", asked, allow_input_required=True)
        assert isinstance(question, types.InputRequiredResult) and question.input_requests
        [key] = question.input_requests
        yes = {key: types.ElicitResult(action="accept", content={"confirm": True})}
        other = {"container": container, "command": "df -h"}
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await client.session.call_tool(
                "exec_diagnostic",
                other,
                input_responses=yes,
                request_state=question.request_state,
                allow_input_required=True,
            )
    assert exec_starts(engine, container, since) == 0


@pytest.mark.docker
@pytest.mark.anyio
async def test_every_other_asking_tool_completes_on_the_new_protocol(
    make_settings: Callable[..., Settings],
    act_standin: Any,
    api: fx.StandInAPI,
    shop: tuple[str, str],
    engine: docker.DockerClient,
    junk: dict[str, str],
) -> None:
    """Lowering memory (its question shows the memory in use, measured again on the retry), a
    Dokploy mutation and a real prune: one question each, then done. Runs last: it changes `shop`."""
    compose_id, app = shop
    asked: list[str] = []
    calls = {
        "set_memory_limit": {"app_name": app, "service": "db", "memory": "24m"},
        "dokploy_call": {"operation": "compose.update", "input": {"composeId": compose_id, "name": "ok"}},
        "prune": {"what": ["containers"], "label": junk["label"], "dry_run": False},
    }
    async with connect(make_settings(act_standin, safety=ADMIN), NEW, "accept", asked) as client:
        answers = {tool: await call_tool(client, tool, args) for tool, args in calls.items()}
        rows = await audit_rows(client)
    for tool, (is_error, text, _) in answers.items():
        assert not is_error, (tool, text)
        assert rows_of(rows, tool) == [("refused", "awaiting_confirmation"), ("ok", "allowed")], tool
    assert len(asked) == 3 and "it uses" in asked[0]
    assert fx.memory_of(engine, f"{app}-db-1") == 24 * 1024**2
    assert api.compose(compose_id)["name"] == "ok"
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(junk["stopped"])
    assert state(engine, junk["running"]) == "running"


def test_every_tool_can_return_its_question(make_settings: Callable[..., Settings]) -> None:
    """build_server wraps every async tool once, so a new tool cannot forget to ask."""

    async def plain() -> None: ...

    wrapper = returns_questions(plain).__code__  # the same code object in every wrapped tool
    server = build_server(make_settings(None), run_detectors=False)
    tools = [t for t in server._tool_manager.list_tools() if t.is_async]
    assert len(tools) >= 20 and all(t.fn.__code__ is wrapper for t in tools), tools


# -- the gate alone -------------------------------------------------------------------------------


@pytest.fixture
def gate(tmp_path: Path) -> Any:
    safety = Safety(SafetySettings(mode="admin"), tmp_path / "state")
    yield safety
    safety.close()


def kill(dry_run: bool = False) -> ActionRequest:
    target = Target(kind="compose_service", project="shop-a1b2c3", service="api")
    return ActionRequest(client="test", tool="kill_tool", action="kill", target=target, dry_run=dry_run)


def answering(answer: ConfirmAnswer) -> Callable[[Decision], Any]:
    async def confirm(_: Decision) -> ConfirmAnswer:
        return answer

    return confirm


@pytest.mark.anyio
async def test_the_gate_runs_a_change_that_needs_a_human_only_on_a_yes(gate: Safety) -> None:
    nobody = await gate.authorize(kill())  # no way to ask passed at all
    cannot = await gate.authorize(kill(), confirm=answering("cannot_ask"))
    declined = await gate.authorize(kill(), confirm=answering("declined"))
    for refused in (nobody, cannot):
        assert (refused.allowed, refused.code, refused.escalate) == (False, "needs_confirmation", True)
        assert all(hint in refused.reason for hint in HOW_TO_GET_IT_APPROVED) and "\n" not in refused.reason
    assert (declined.code, declined.escalate) == ("declined", False)
    status = await gate.budget_status(kill().target or Target(kind="host"), "kill")
    assert status is not None and status.used == 0  # refusals count nothing
    assert (await gate.authorize(kill(dry_run=True))).allowed  # a dry run changes nothing: not asked
    confirmed = await gate.authorize(kill(), confirm=answering("confirmed"))
    assert confirmed.allowed and confirmed.budget is not None and confirmed.budget.used == 1


@pytest.mark.anyio
async def test_a_question_for_a_later_call_is_audited_once_and_counts_nothing(gate: Safety) -> None:
    async def ask_later(_: Decision) -> ConfirmAnswer:
        raise AwaitingConfirmation("the question")

    with pytest.raises(AwaitingConfirmation):
        async with gate.guard(kill(), confirm=ask_later):
            pytest.fail("the block must not run while the question is open")
    [row] = await gate.audit_entries()
    assert (row.tool, row.result, row.code) == ("kill_tool", "refused", "awaiting_confirmation")
    assert "nothing changed or counted yet" in row.reason
    status = await gate.budget_status(kill().target or Target(kind="host"), "kill")
    assert status is not None and status.used == 0
