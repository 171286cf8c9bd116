"""The tools the model is given, from the real server's list: at most 15, at most 5k o200k tokens
(no output schemas), all read-only; the least useful are dropped first when the budget is tight."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from agent_host.model.tools import LinkReadTools, definitions_from_mcp, select_tools
from mcp_server.server import build_server
from mcp_server.server.annotations import TOOLS
from mcp_server.settings import Settings
from standins.ollama import OllamaStandIn

from .conftest import MakeDecider, answer, make_incident, oom_candidates

pytestmark = pytest.mark.anyio


@pytest.fixture
async def server_tools(tmp_path: Path) -> list[Any]:
    server = build_server(Settings(state_dir=tmp_path / "state"), run_detectors=False)
    async with Client(server) as client:
        return list((await client.list_tools()).tools)


def o200k(value: Any) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return len(bpe_openai.get_encoding("o200k_base").encode(json.dumps(value, separators=(",", ":"))))


class NoCalls:
    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        raise AssertionError(f"no tool call expected, got {name}")


async def test_the_model_gets_at_most_15_read_only_tools_in_5k_tokens(
    server_tools: list[Any], ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    read_only = {name for name, d in TOOLS.items() if d.actions == ("read",)}
    tools = LinkReadTools(definitions_from_mcp(server_tools), NoCalls())
    assert {d.name for d in tools.definitions} == read_only  # the changing ones never get this far
    ollama_standin.script([answer()])
    incident = make_incident()
    decider = make_decider(read_tools=tools)
    assert await decider.decide(incident, oom_candidates(incident), tools) is not None
    sent = ollama_standin.chats[0]
    assert 0 < len(sent.tools) <= 15
    assert set(sent.tool_names) <= read_only and "read_logs" in sent.tool_names
    assert o200k(sent.tools) <= 5000 and sent.tool_tokens <= 5000
    for tool in sent.tools:  # the model-facing shape: no output schema, no annotations
        assert set(tool["function"]) == {"name", "description", "parameters"}, tool["function"]["name"]


async def test_a_tight_budget_drops_the_least_useful_first(server_tools: list[Any]) -> None:
    definitions = definitions_from_mcp(server_tools)
    everything = select_tools(definitions, 15, 5000)
    tight = select_tools(definitions, 15, everything.tokens // 2)
    assert tight.tokens <= everything.tokens // 2
    assert tight.tools[0].name == "read_logs" and "service_status" in tight.names
    assert "active_signals" in tight.dropped and "prune" in tight.dropped
    few = select_tools(definitions, 3, 5000)
    assert [t.name for t in few.tools] == ["read_logs", "service_status", "container_stats"]


async def test_what_reaches_ollama_keeps_every_parameter_type_default_and_bound(
    server_tools: list[Any], ollama_standin: OllamaStandIn, make_decider: MakeDecider
) -> None:
    """The `ollama` client keeps only type, description, enum and items of a property: optional
    parameters (anyOf with null) would arrive untyped, defaults and bounds would vanish."""
    tools = LinkReadTools(definitions_from_mcp(server_tools), NoCalls())
    ollama_standin.script([answer()])
    incident = make_incident()
    assert await make_decider(read_tools=tools).decide(incident, oom_candidates(incident), tools) is not None
    sent = {t["function"]["name"]: t["function"]["parameters"] for t in ollama_standin.chats[0].tools}
    for name, parameters in sent.items():
        for prop_name, prop in parameters["properties"].items():
            assert prop.get("type"), f"{name}.{prop_name} reached the model without a type: {prop}"
    read_logs = sent["read_logs"]["properties"]
    assert read_logs["app_name"]["type"] == "string" and "optional" in read_logs["app_name"]["description"]
    assert (
        "default 5000" in read_logs["tail"]["description"] and "1–100000" in read_logs["tail"]["description"]
    )
    assert read_logs["mode"]["enum"] == ["digest", "raw"]
    # and the budget counts exactly what is sent
    by_name = {d.name: d for d in tools.definitions}
    assert all(by_name[n].for_ollama()["function"]["parameters"] == p for n, p in sent.items())
