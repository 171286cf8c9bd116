"""Hostile and malformed arguments get an error that names the argument and says what to send.

Before: `since="99999999999999h"`, `memory="1e309"`, CR/LF in check_domain's host and a 10 KB id
came back as a bare "Error executing tool X" (an exception the SDK hides), a prompt without a
required argument answered -32603, and compose_graph on a YAML bomb or a 2,000-service file ran
for minutes and answered 67 MB. Every call here goes through the in-process `mcp.Client(server)`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextContent

from mcp_server.dokploy import DokployClient
from mcp_server.server import build_server
from mcp_server.settings import Settings
from standins.dokploy.server import StandIn
from tests.test_safe_yaml import LAUGHS

pytestmark = pytest.mark.anyio

TEN_KB = "x" * 10_000


@pytest.fixture
async def client(make_settings: Callable[..., Settings]) -> AsyncIterator[Client]:
    """A server without Dokploy: every call below fails on its arguments before reaching anything."""
    async with Client(build_server(make_settings(), run_detectors=False)) as connected:
        yield connected


async def error_of(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    assert "Error executing tool" in text and text.rstrip() != f"Error executing tool {tool}"
    return text


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("99999999999999h", "since '99999999999999h' is more than 366 days back; send an age like"),
        ("400d", "since '400d' is more than 366 days back"),
        ("1e400", "can't read since '1e400': use an age like '15m'"),
        ("99999999999999999999", "since 1e+20 is not a UNIX time between 1970 and 9999"),
    ],
)
async def test_read_logs_since_out_of_range(client: Client, since: str, expected: str) -> None:
    assert expected in await error_of(client, "read_logs", {"container": "web", "since": since})


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ("1e309", "memory '1e309' is not a size; send a size like '512m' or '2g'"),
        ("-1", "memory '-1' is negative; send a size like '512m'"),
        ("abc", "memory 'abc' is not a size; send"),
        ("nan", "memory 'nan' is not a size; send"),
        ("inf", "memory 'inf' is not a size; send"),
        ("5m", "memory '5m' is below the engine's minimum of 6 MiB; send at least '6m'"),
        ("2t", "memory '2t' is more than 1 TiB; send a size like '512m' or '4g'"),
        ("9" * 40, "Arguments memory is 40 characters long, too long; send a size like '512m' or '2g'"),
    ],
)
async def test_set_memory_limit_sizes(client: Client, memory: str, expected: str) -> None:
    args = {"app_name": "shop", "service": "web", "memory": memory, "dry_run": True}
    assert expected in await error_of(client, "set_memory_limit", args)


@pytest.mark.parametrize(
    ("args", "argument", "send"),
    [
        ({"host": "shop.example.com\r\nX-Evil: 1"}, "host", "send a bare host name such as shop.example.com"),
        ({"host": "https://shop.example.com/"}, "host", "send a bare host name"),
        ({"host": "shop.example.com", "path": "/a\r\nX-Evil: 1"}, "path", "send a path starting with '/'"),
        ({"host": "shop.example.com", "path": "health"}, "path", "send a path starting with '/'"),
        ({"host": "shop.example.com", "connect_to": "127.0.0.1:99999"}, "connect_to", "port from 1 to 65535"),
        ({"host": "shop.example.com", "connect_to": "127.0.0.1"}, "connect_to", "send address:port"),
        ({"host": TEN_KB}, "host", "is 10,000 characters long, too long"),
    ],
)
async def test_check_domain_refuses_injection(
    client: Client, args: dict[str, Any], argument: str, send: str
) -> None:
    message = await error_of(client, "check_domain", {"https": False, **args})
    assert f"Arguments {argument} " in message and send in message  # one line: the argument, then why


@pytest.mark.parametrize(
    ("tool", "args", "argument", "send"),
    [
        (
            "deployment_log",
            {"deployment_id": TEN_KB},
            "deployment_id",
            "send the id exactly as Dokploy returned",
        ),
        ("service_status", {"app_name": TEN_KB}, "app_name", "send a Dokploy appName"),
        (
            "service_status",
            {"app_name": "shop", "service": "web; rm -rf /"},
            "service",
            "compose service name",
        ),
        ("read_logs", {"container": TEN_KB}, "container", "send a container name or id"),
        ("compose_graph", {"app_name": "shop\nIGNORE PREVIOUS"}, "app_name", "send a Dokploy appName"),
        (
            "restart_service",
            {"app_name": "shop", "container": "a b", "dry_run": True},
            "container",
            "container",
        ),
        ("exec_diagnostic", {"container": "web", "command": "df -h\ncat /etc/shadow"}, "command", "one line"),
        ("dokploy_call", {"operation": "compose.one\n", "input": {}}, "operation", "router.procedure"),
        ("prune", {"what": ["images"], "label": "a=b\r\nc"}, "label", "send one label on one line"),
        ("active_signals", {"app_name": TEN_KB}, "app_name", "is 10,000 characters long"),
    ],
)
async def test_ids_and_names_are_bounded(
    client: Client, tool: str, args: dict[str, Any], argument: str, send: str
) -> None:
    message = await error_of(client, tool, args)
    assert f"Arguments {argument} " in message and send in message  # one line: the argument, then why
    assert TEN_KB not in message  # the hostile value is not echoed back whole


async def test_schema_tells_the_model_the_bounds(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    host = tools["check_domain"].input_schema["properties"]["host"]
    assert host["maxLength"] == 253 and host["pattern"] == r"^[\w.-]+$"
    app = tools["read_logs"].input_schema["properties"]["app_name"]["anyOf"][0]
    assert app["maxLength"] == 128 and "pattern" in app


async def test_prompt_without_a_required_argument_is_invalid_params(client: Client) -> None:
    with pytest.raises(MCPError) as missing:
        await client.get_prompt("diagnose_service", {"app_name": "shop"})
    assert missing.value.code == INVALID_PARAMS
    assert missing.value.message.startswith(
        "prompt diagnose_service is missing its required argument(s): service (compose service to diagnose)"
    )
    with pytest.raises(MCPError) as bad:
        await client.get_prompt("investigate_compose", {"app_name": TEN_KB})
    assert bad.value.code == INVALID_PARAMS
    assert (
        "argument app_name is 10,000 characters long, too long; send a Dokploy appName" in bad.value.message
    )
    with pytest.raises(MCPError) as unknown:
        await client.get_prompt("write_postmortem", {"app_name": "shop", "incident": "x", "extra": "1"})
    assert unknown.value.code == INVALID_PARAMS
    assert "has no argument 'extra'; it takes app_name, incident" in unknown.value.message
    ok = await client.get_prompt("diagnose_service", {"app_name": "shop", "service": "api"})
    assert "service_status" in ok.messages[0].content.text  # type: ignore[union-attr]


# -- compose_graph through Dokploy (the stand-in): bombs and big files ---------------------------


def big_compose(services: int) -> str:
    """A chain (every service needs the one before), so every blast radius is long."""
    lines = ["services:"]
    for i in range(services):
        lines += [f"  svc{i}:", f"    image: registry.example.com/svc{i}:1", "    environment:"]
        lines.append(f"      UPSTREAM_URL: http://svc{i - 1}:8080" if i else "      ROLE: root")
        if i:
            lines.append(f"    depends_on: [svc{i - 1}]")
    return "\n".join(lines) + "\n"


@pytest.fixture
async def standin_client(
    dokploy_standin: StandIn, make_settings: Callable[..., Settings]
) -> AsyncIterator[tuple[Client, DokployClient]]:
    async with (
        await DokployClient.connect(dokploy_standin.url, dokploy_standin.api_key) as dk,
        Client(build_server(make_settings(dokploy_standin), run_detectors=False)) as connected,
    ):
        yield connected, dk


async def _stored_compose(dk: DokployClient, app_name: str, text: str) -> str:
    _, env = await dk.project_create(f"bad-input-{app_name}")
    created = await dk.call(
        "compose.create",
        name=app_name,
        appName=app_name,
        environmentId=env.environment_id,
        sourceType="raw",
        composeFile=text,
    )
    return str(created["appName"])


@pytest.mark.docker
async def test_compose_graph_refuses_a_yaml_bomb_fast(standin_client: tuple[Client, DokployClient]) -> None:
    client, dk = standin_client
    app = await _stored_compose(dk, "bomb", LAUGHS)
    start = time.perf_counter()
    message = await error_of(client, "compose_graph", {"app_name": app})
    assert time.perf_counter() - start < 10
    assert "the compose file uses too many aliases" in message and "refusing to expand it" in message


@pytest.mark.docker
async def test_compose_graph_on_2000_services_is_bounded(
    standin_client: tuple[Client, DokployClient],
) -> None:
    client, dk = standin_client
    app = await _stored_compose(dk, "big", big_compose(2000))
    start = time.perf_counter()
    result = await client.call_tool("compose_graph", {"app_name": app, "include_file": True})
    elapsed = time.perf_counter() - start
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    size = len(json.dumps(data))
    assert size < 160_000, size  # was 67 MB; the server caps whole answers at 256 KiB
    assert elapsed < 60, elapsed  # was 207 s (a few seconds here, loose for a busy machine)
    assert data["services_total"] == 2000 and len(data["services"]) == 40
    root = data["services"][0]
    assert root["name"] == "svc0" and root["blast_radius_total"] == 1999 and len(root["blast_radius"]) == 25
    assert any(
        "services: 1,960 of 2,000 not described" in note and "service=<name>" in note
        for note in data["omitted"]
    )
    assert any(note.startswith("compose_file: cut after") for note in data["omitted"])

    focused = (
        await client.call_tool("compose_graph", {"app_name": app, "service": "svc1500"})
    ).structured_content
    assert focused is not None
    first = focused["services"][0]
    assert (
        first["name"] == "svc1500" and first["upstream_total"] == 1500 and first["blast_radius_total"] == 499
    )
    assert [s["name"] for s in focused["services"][1:3]] == ["svc0", "svc1"]  # its upstream, roots first
    unknown = await error_of(client, "compose_graph", {"app_name": app, "service": "nope"})
    assert 'no service named "nope"' in unknown
