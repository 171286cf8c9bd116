"""The tool surface as a model sees it: the exact list, true annotations, size in tokens."""

from __future__ import annotations

import json
from typing import Any

import bpe_openai
import pytest
from mcp import Client

from mcp_server.server import build_server
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio

# tool: (read_only, destructive, idempotent, open_world) — what each tool really does
ANNOTATIONS: dict[str, tuple[bool, bool, bool, bool]] = {
    "list_inventory": (True, False, True, False),
    "service_status": (True, False, True, False),
    "compose_health": (True, False, True, False),
    "read_logs": (True, False, True, False),
    "container_stats": (True, False, True, False),
    "recent_events": (True, False, True, False),
    "compose_graph": (True, False, True, False),
    "deployment_history": (True, False, True, False),
    "deployment_log": (True, False, True, False),
    "check_domain": (True, False, True, True),  # reaches the public internet
    "disk_usage": (True, False, True, False),
    "active_signals": (True, False, True, False),
    "restart_service": (False, False, False, False),
    "start_compose": (False, False, True, False),
    "stop_compose": (False, True, True, False),  # takes a stack down
    "deploy": (False, False, False, True),  # Dokploy may fetch source / pull images
    "rollback": (False, False, False, True),
    "set_memory_limit": (False, True, True, False),  # may lower a limit
    "prune": (False, True, True, False),  # deletes images and cache
    "exec_diagnostic": (True, False, True, False),  # allowlisted read-only commands only
    "dokploy_call": (False, True, False, True),  # any Dokploy operation
}


@pytest.fixture
async def tools(tmp_path: Any) -> list[Any]:
    server = build_server(Settings(state_dir=tmp_path / "state"), run_detectors=False)
    async with Client(server) as client:
        return list((await client.list_tools()).tools)


async def test_every_tool_and_its_annotations(tools: list[Any]) -> None:
    assert {t.name for t in tools} == set(ANNOTATIONS)
    assert len(tools) <= 40
    for tool in tools:
        a = tool.annotations
        assert a is not None and a.title, tool.name
        got = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        assert got == ANNOTATIONS[tool.name], f"{tool.name}: annotations {got}"
        assert tool.description and not tool.description.startswith(" "), tool.name
        assert tool.output_schema is not None, f"{tool.name} has no structured result model"


async def test_mutating_tools_take_dry_run(tools: list[Any]) -> None:
    for tool in tools:
        read_only = ANNOTATIONS[tool.name][0]
        if not read_only and tool.name != "dokploy_call":
            assert "dry_run" in tool.input_schema["properties"], tool.name


async def test_the_model_facing_list_stays_under_5k_tokens(tools: list[Any]) -> None:
    """What a host hands to the model: name, description, input schema, annotations (o200k)."""
    enc = bpe_openai.get_encoding("o200k_base")
    facing = [
        {
            "name": t.name,
            "description": t.description,
            "input_schema": t.input_schema,
            "annotations": t.annotations.model_dump(exclude_none=True),
        }
        for t in tools
    ]
    assert len(enc.encode(json.dumps(facing))) <= 5000
