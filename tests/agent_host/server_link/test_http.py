"""The link over streamable HTTP against a real `infraguardian-mcp serve` child process and the
real Docker engine: token handling, reads, refusals, a real restart, and the server being killed
and started again on the same port."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
import docker
import pytest

from agent_host.server_link import LinkSettings, ServerAuthError, ServerLink, ServerUnavailable
from tests.agent_host.server_link.conftest import HttpServer
from tests.mcp_server.act_fixtures import protected_name, started_at, state

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def test_read_only_call_annotations_and_signals_over_http(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ServerLink(http_server.settings()) as link:
        assert link.connected
        assert link.describe() == http_server.url
        annotations = await link.tool_annotations()
        inventory = await link.call_tool("list_inventory", {})
        signals = await link.active_signals()
    assert annotations["list_inventory"].read_only_hint is True
    assert annotations["restart_service"].read_only_hint is False
    assert annotations["restart_service"].destructive_hint is True
    assert inventory.ok and not inventory.refused and not inventory.outcome_unknown
    assert inventory.structured is not None and inventory.structured["host"] == "local"
    assert '"host": "local"' in inventory.text and inventory.duration_ms > 0
    assert signals == []  # detectors are off: the resource answers an empty list
    assert http_server.token not in caplog.text


async def test_wrong_token_is_one_clear_error_without_any_token(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + http_server.token[::-1]
    with pytest.raises(ServerAuthError) as refused:
        async with ServerLink(http_server.settings(server_token=wrong, connect_timeout_s=20)):
            pass
    message = str(refused.value)
    assert "refused the bearer token (wrong bearer token, HTTP 401)" in message
    assert "INFRAGUARDIAN_AGENT__SERVER_TOKEN" in message and http_server.url in message
    for secret in (wrong, http_server.token):
        assert secret not in message and secret not in caplog.text


async def test_token_file_is_read_and_a_missing_server_is_unavailable(
    http_server: HttpServer, tmp_path: Any
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(http_server.token + "\n")
    async with ServerLink(LinkSettings(server_url=http_server.url, server_token_file=token_file)) as link:
        assert (await link.call_tool("list_inventory", {})).ok
    http_server.kill()
    with pytest.raises(ServerUnavailable) as unavailable:
        async with ServerLink(http_server.settings(connect_timeout_s=3)):
            pass
    assert "is not reachable (ConnectError" in str(unavailable.value)
    assert http_server.token not in str(unavailable.value)


async def test_policy_refusal_is_detected_exactly(
    http_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    name = protected_name(engine)
    make_container(name)
    before = started_at(engine, name)
    async with ServerLink(http_server.settings()) as link:
        refused = await link.call_tool("restart_service", {"app_name": name, "container": name})
        # an error that is not a refusal, with 'refused by policy' in what the client sent
        not_refused = await link.call_tool(
            "restart_service", {"app_name": "refused-by-policy", "container": "refused-by-policy"}
        )
    assert refused.refused and not refused.ok and not refused.outcome_unknown
    assert refused.error is not None and "protected" in refused.error
    assert not refused.error.startswith("Error executing tool")  # the gate's reason itself
    assert started_at(engine, name) == before
    assert not not_refused.ok and not not_refused.refused and "not found" in (not_refused.error or "")


async def test_a_change_that_needs_a_human_runs_only_when_confirmed(
    http_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    project = "linkstop-" + make_container().name.rsplit("-", 1)[1]
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "web"}
    web = make_container(f"{project}-web-1", labels=labels)
    async with ServerLink(http_server.settings()) as link:
        unapproved = await link.call_tool("stop_compose", {"app_name": project})
        still_running = state(engine, web.name)
        approved = await link.call_tool("stop_compose", {"app_name": project}, confirmed=True)
    # the server asked; the link had no human's yes, so it did not answer and nothing ran
    assert unapproved.refused and unapproved.needs_confirmation and not unapproved.ok
    assert (
        unapproved.error is not None and project in unapproved.error and "the server asks" in unapproved.error
    )
    assert still_running == "running"
    assert approved.ok and not approved.refused, approved.error
    assert state(engine, web.name) == "exited"


async def test_restart_service_restarts_a_real_container(
    http_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    name = make_container().name
    before = started_at(engine, name)
    async with ServerLink(http_server.settings()) as link:
        done = await link.call_tool("restart_service", {"app_name": name, "container": name})
    assert done.ok and not done.refused and not done.replayed and done.structured is not None
    [row] = done.structured["containers"]
    assert (row["container"], row["status_after"]) == (name, "running")
    assert started_at(engine, name) != before and state(engine, name) == "running"


async def test_server_killed_and_started_again_on_the_same_port(http_server: HttpServer) -> None:
    async with ServerLink(http_server.settings(connect_timeout_s=90)) as link:
        assert (await link.call_tool("list_inventory", {})).ok
        http_server.kill()

        async def start_again() -> None:
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(http_server.start)

        signals: list[list[dict[str, Any]]] = []

        async def read_signals() -> None:
            signals.append(await link.active_signals())

        async with anyio.create_task_group() as tg:
            tg.start_soon(start_again)
            # both sent while the server is down: the connection is refused, so the link knows
            # the requests never arrived, waits for the new server and sends them then
            tg.start_soon(read_signals)
            during = await link.call_tool("list_inventory", {})
        after = await link.call_tool("list_inventory", {})
        assert link.connected
    assert during.ok and not during.outcome_unknown and after.ok and signals == [[]]
