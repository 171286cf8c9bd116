"""Idempotency keys through the link: the key reaches the server in the request's _meta, and a
repeat of a key is answered from the server's record (also after a call cut mid-action)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import docker
import pytest

from agent_host.server_link import ServerLink
from tests.agent_host.server_link.conftest import (
    STUBBORN,
    HttpServer,
    engine_events,
    kill_server_during_restart,
    wait_restarted,
)
from tests.mcp_server.act_fixtures import started_at

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def test_same_key_after_a_cut_call_is_answered_from_the_servers_record(
    no_backoff_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    container = make_container(command=STUBBORN)
    since = time.time() - 1
    args = {"app_name": container.name, "container": container.name}
    key = f"inc-{container.name}:step-1"
    async with ServerLink(no_backoff_server.settings(connect_timeout_s=90)) as link:
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_server_during_restart, no_backoff_server, engine, container.id, since)
            cut = await link.call_tool("restart_service", args, idempotency_key=key)
        await wait_restarted(engine, container.id, since)
        again = await link.call_tool("restart_service", args, idempotency_key=key)
    assert cut.outcome_unknown and key in (cut.error or "")
    # the server knows the key: it says the first call's end is unknown and does nothing again
    assert again.replayed and again.outcome_unknown and not again.ok and again.idempotency_key == key
    assert again.structured is not None and again.structured["idempotency_key"] == key
    assert engine_events(engine, container.id, "restart", since) == 1


async def test_idempotency_key_reaches_the_server(
    no_backoff_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    name = make_container().name
    args = {"app_name": name, "container": name}
    async with ServerLink(no_backoff_server.settings()) as link:
        first = await link.call_tool("restart_service", args, idempotency_key=f"inc-{name}:step-2")
        restarted_at = started_at(engine, name)
        repeat = await link.call_tool("restart_service", args, idempotency_key=f"inc-{name}:step-2")
        other = await link.call_tool("restart_service", args, idempotency_key=f"inc-{name}:step-3")
    assert first.ok and not first.replayed
    assert (
        repeat.ok
        and repeat.replayed
        and repeat.structured is not None
        and repeat.structured["replayed"] is True
    )
    assert first.structured is not None and repeat.structured["containers"] == first.structured["containers"]
    assert other.ok and not other.replayed  # a new key is a new action
    assert started_at(engine, name) != restarted_at
