"""Tool functions called directly, with no Docker engine: their Services hold one DockerHost on a
socket that does not exist. What these check needs no engine (argument checks, unknown hosts, the
resolver's own rules, the audit row a read writes); what needs one stays in the Docker-backed tests.

The MCP Context a tool gets is replaced by the two attributes tools read from it (the lifespan's
Services, the client session); nothing of Docker's behaviour is imitated."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from mcp import Client
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.models import GroupService, InventoryGroup
from mcp_server.server import build_server
from mcp_server.server.annotations import TOOLS as DECLARED
from mcp_server.server.hosts import DOCKER_HOST_ARGUMENT, UnknownHost
from mcp_server.server.resolve import App, pick_service
from mcp_server.server.services import Services
from mcp_server.server.tools import TOOLS
from mcp_server.server.tools.check_domain import check_domain
from mcp_server.server.tools.disk_usage import disk_usage
from mcp_server.server.tools.list_inventory import list_inventory
from mcp_server.server.tools.read_logs import read_logs
from mcp_server.server.tools.restart_service import restart_service
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio

NO_DOCKER = "unix:///nonexistent/ig-tools-unit/docker.sock"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", docker_host=NO_DOCKER)


@pytest.fixture
async def svc(settings: Settings) -> AsyncIterator[Services]:
    async with Services.open(settings) as services:
        yield services


def context(svc: Services) -> Context:
    """What a tool reads from its Context: the lifespan's Services and the client's session."""
    return cast(Context, SimpleNamespace(request_context=SimpleNamespace(lifespan_context=svc), session=None))


def test_every_declared_tool_is_a_module_level_function_in_the_list() -> None:
    assert {fn.__name__ for fn in TOOLS} == set(DECLARED)
    for fn in TOOLS:
        assert inspect.iscoroutinefunction(fn) and fn.__module__.endswith(f".{fn.__name__}"), fn
        assert fn.__doc__ and len(fn.__doc__) > 60, f"{fn.__name__} has no docstring a model can read"
        params = inspect.signature(fn).parameters
        # every tool but check_domain (whose `host` is a web host it probes) takes the Docker host
        if fn.__name__ != "check_domain":
            assert "host" in params and params["host"].default is None, fn.__name__


async def test_the_default_host_is_the_local_engine_mapped_to_dokploy_itself(svc: Services) -> None:
    host = svc.host(None)
    assert isinstance(host, DockerHost) and host.name == "local" and host.base_url == NO_DOCKER
    assert svc.host("local") is host and list(svc.hosts) == ["local"]
    ref = svc.host_refs["local"]
    assert (ref.docker_url, ref.dokploy_server_id) == (NO_DOCKER, None)
    with pytest.raises(UnknownHost, match=r"unknown Docker host 'edge-2'; known hosts: local"):
        svc.host("edge-2")


async def test_an_unknown_host_is_a_tool_error_naming_the_known_ones(svc: Services) -> None:
    ctx = context(svc)
    for call in (
        restart_service(ctx, app_name="shop", service="api", host="edge-2"),
        list_inventory(ctx, host="edge-2"),
        disk_usage(ctx, host="edge-2"),
    ):
        with pytest.raises(ToolError, match=r"unknown Docker host 'edge-2'; known hosts: local"):
            await call
    assert await svc.safety.audit_entries(limit=10) == []  # refused before anything was read


async def test_arguments_are_checked_before_docker_is_asked(svc: Services) -> None:
    ctx = context(svc)
    for args in ({"service": "api", "container": "shop-api-1"}, {}):
        with pytest.raises(ToolError, match=r"give either service .* or container .*, not both or neither"):
            await restart_service(ctx, app_name="shop", **args)
    with pytest.raises(ToolError, match="pass app_name and service, or container"):
        await read_logs(ctx, app_name="shop")
    with pytest.raises(ToolError, match="since"):
        await read_logs(ctx, container="shop-api-1", since="yesterday-ish")


async def test_an_engine_that_does_not_answer_is_one_clear_line(svc: Services) -> None:
    with pytest.raises(ToolError) as failed:
        await list_inventory(context(svc))
    message = str(failed.value)
    assert f"Docker engine at {NO_DOCKER} is not reachable" in message and "\n" not in message


async def test_a_read_passes_the_guard_and_leaves_an_audit_row(svc: Services) -> None:
    # port 1 on loopback refuses at once: a "down" domain, read without DNS or Docker
    result = await check_domain(context(svc), host="shop.example.com", https=False, connect_to="127.0.0.1:1")
    assert result.verdict == "down"
    [row] = await svc.safety.audit_entries(limit=10)
    assert (row.tool, row.action, row.allowed, row.client) == ("check_domain", "read", True, "unknown")
    assert row.target_key.startswith("host") and "local" in row.target_key


def test_the_resolver_names_services_and_says_what_to_send() -> None:
    group = InventoryGroup(
        kind="compose", app_name="shop", services=[GroupService(name="api"), GroupService(name="db")]
    )
    app = App("shop", DockerHost(NO_DOCKER, name="local"), None, group)
    assert pick_service(app, "db") == "db"
    with pytest.raises(ToolError, match="'shop' has no service 'web'; its services: api, db"):
        pick_service(app, "web")
    with pytest.raises(ToolError, match="'shop' has services api, db: name one with service="):
        pick_service(app, None)
    target = app.service_target("db", None)
    assert (target.kind, target.host, target.project, target.service) == (
        "compose_service",
        "local",
        "shop",
        "db",
    )
    missing = App("blog", DockerHost(NO_DOCKER, name="local"), None, None)
    with pytest.raises(
        ToolError, match="no compose project, stack or swarm service named 'blog' on host local"
    ):
        missing.require_group()


async def test_host_is_accepted_but_not_published_while_the_tool_list_is_full(settings: Settings) -> None:
    async with Client(build_server(settings, run_detectors=False)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        for name, tool in listed.items():
            described = (tool.input_schema.get("properties") or {}).get("host", {}).get("description")
            assert described != DOCKER_HOST_ARGUMENT, name
        result = await client.call_tool("disk_usage", {"host": "edge-2"})
    assert result.is_error
    text: Any = result.content[0]
    assert "unknown Docker host 'edge-2'; known hosts: local" in text.text
