"""A changing call whose connection dies: cut by `kill -9` of the server mid-action, it is reported
as `outcome_unknown` and never sent again by the link (counted on the engine)."""

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

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def test_changing_call_cut_mid_action_is_unknown_and_not_repeated(
    no_backoff_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    container = make_container(command=STUBBORN)
    since = time.time() - 1
    args = {"app_name": container.name, "container": container.name}
    async with ServerLink(no_backoff_server.settings(connect_timeout_s=90)) as link:
        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_server_during_restart, no_backoff_server, engine, container.id, since)
            cut = await link.call_tool("restart_service", args)
        await wait_restarted(engine, container.id, since)
        # the link is back on the new server, and had every chance to send the call again
        after = await link.call_tool("list_inventory", {})
        await anyio.sleep(3)
    assert cut.outcome_unknown and not cut.ok and not cut.refused and not cut.replayed
    assert cut.error is not None and cut.error.startswith(
        "outcome unknown: the connection to the server was lost"
    )
    assert after.ok
    assert engine_events(engine, container.id, "restart", since) == 1  # the dead server's, never a second
