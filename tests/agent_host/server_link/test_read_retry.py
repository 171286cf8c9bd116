"""A read-only call whose connection dies after the server got it is sent once more; a changing
call cut the same way is not. The cut is made by a TCP proxy in front of a real server: it
passes the request on, lets the server answer into the void, and closes the client's connection."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anyio
import docker
import pytest
from anyio.abc import SocketStream

from agent_host.server_link import ServerLink, ServerUnavailable
from tests.agent_host.server_link.conftest import HttpServer
from tests.conftest import free_port
from tests.mcp_server.act_fixtures import started_at

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to the server; the first `cuts` requests calling `tool` reach the
    server, but their connection is closed before any answer gets back."""

    def __init__(self, server_port: int, tool: str, cuts: int) -> None:
        self.port = free_port()
        self.server_port = server_port
        self.pattern = re.compile(rb'"name":\s*"' + tool.encode() + rb'"')
        self.cuts = cuts

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        task_status.started()
        await listener.serve(self._handle)

    async def _handle(self, client: SocketStream) -> None:
        async with client, await anyio.connect_tcp("127.0.0.1", self.server_port) as server:
            cut = anyio.Event()
            async with anyio.create_task_group() as tg:

                async def upstream() -> None:
                    async for chunk in client:
                        await server.send(chunk)
                        if self.cuts > 0 and self.pattern.search(chunk):
                            self.cuts -= 1
                            cut.set()
                    tg.cancel_scope.cancel()

                async def downstream() -> None:
                    async for chunk in server:
                        if cut.is_set():
                            await anyio.sleep(1.0)  # the server acts and answers; nobody hears it
                            tg.cancel_scope.cancel()
                            return
                        await client.send(chunk)
                    tg.cancel_scope.cancel()

                tg.start_soon(upstream)
                tg.start_soon(downstream)


async def audit_rows(link: ServerLink, tool: str) -> list[dict[str, Any]]:
    rows = json.loads(await link.read_resource("infraguardian://audit"))
    return [row for row in rows if row["tool"] == tool]


async def test_read_only_call_cut_after_sending_is_sent_once_more(http_server: HttpServer) -> None:
    proxy = CuttingProxy(http_server.port, "list_inventory", cuts=1)
    settings = http_server.settings(server_url=f"http://127.0.0.1:{proxy.port}/mcp", connect_timeout_s=60)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        async with ServerLink(settings) as link:
            inventory = await link.call_tool("list_inventory", {})
            rows = await audit_rows(link, "list_inventory")
        tg.cancel_scope.cancel()
    assert proxy.cuts == 0  # the first answer was really lost
    assert inventory.ok and not inventory.outcome_unknown
    assert len(rows) == 2  # the server ran it twice: the lost one and the retry


async def test_read_only_call_cut_twice_is_unavailable(http_server: HttpServer) -> None:
    proxy = CuttingProxy(http_server.port, "list_inventory", cuts=2)
    settings = http_server.settings(server_url=f"http://127.0.0.1:{proxy.port}/mcp", connect_timeout_s=60)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        async with ServerLink(settings) as link:
            with pytest.raises(ServerUnavailable, match="was lost twice during list_inventory"):
                await link.call_tool("list_inventory", {})
        tg.cancel_scope.cancel()


async def test_changing_call_cut_after_sending_is_not_sent_again(
    http_server: HttpServer, engine: docker.DockerClient, make_container: Callable[..., Any]
) -> None:
    name = make_container().name
    before = started_at(engine, name)
    proxy = CuttingProxy(http_server.port, "restart_service", cuts=1)
    settings = http_server.settings(server_url=f"http://127.0.0.1:{proxy.port}/mcp", connect_timeout_s=60)
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        async with ServerLink(settings) as link:
            cut = await link.call_tool("restart_service", {"app_name": name, "container": name})
            await anyio.sleep(2)
            rows = await audit_rows(link, "restart_service")
        tg.cancel_scope.cancel()
    assert cut.outcome_unknown and not cut.ok
    assert [row["result"] for row in rows] == ["ok"]  # it ran once, and only once
    assert started_at(engine, name) != before
