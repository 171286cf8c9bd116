"""The tool surface as a model sees it: the exact list, annotations derived from the safety policy
(issue 12 §7), size in tokens."""

from __future__ import annotations

import json
from typing import Any

import bpe_openai
import pytest
from mcp import Client

from mcp_server.safety import ACTIONS, Mode
from mcp_server.server import build_server
from mcp_server.server.annotations import TOOLS, declares, derive_annotations, tool_annotations
from mcp_server.settings import Settings

pytestmark = pytest.mark.anyio

# What each tool really does, as issue 12 found it (the derivation below must agree):
# restart_service, deploy and rollback kill or replace containers and overwrite compose files;
# exec_diagnostic runs a command in a container, which the policy makes admin-only with a human.
DESTRUCTIVE = {
    "restart_service",
    "stop_compose",
    "deploy",
    "rollback",
    "set_memory_limit",
    "prune",
    "exec_diagnostic",
    "dokploy_call",
}
CHANGING = DESTRUCTIVE | {"start_compose"}
OPEN_WORLD = {"check_domain", "deploy", "rollback", "dokploy_call"}


def expected_hints(actions: tuple[str, ...], open_world: bool) -> tuple[bool, bool, bool, bool]:
    """(read_only, destructive, idempotent, open_world) straight from the policy table."""
    specs = [ACTIONS[name] for name in actions]
    return (
        not any(s.changes_state for s in specs),
        any(s.destroys for s in specs),
        all(s.idempotent for s in specs),
        open_world,
    )


@pytest.fixture
async def tools(tmp_path: Any) -> list[Any]:
    server = build_server(Settings(state_dir=tmp_path / "state"), run_detectors=False)
    async with Client(server) as client:
        return list((await client.list_tools()).tools)


async def test_every_tool_and_its_annotations(tools: list[Any]) -> None:
    assert {t.name for t in tools} == set(TOOLS)
    assert len(tools) <= 40
    for tool in tools:
        a = tool.annotations
        assert a is not None and a.title == TOOLS[tool.name].title, tool.name
        declared = TOOLS[tool.name]
        got = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        assert got == expected_hints(declared.actions, declared.open_world), f"{tool.name}: {got}"
        assert tool.description and not tool.description.startswith(" "), tool.name
        assert tool.output_schema is not None, f"{tool.name} has no structured result model"


async def test_annotations_tell_the_truths_issue_12_found_missing(tools: list[Any]) -> None:
    hints = {t.name: t.annotations for t in tools}
    assert {name for name, a in hints.items() if a.destructive_hint} == DESTRUCTIVE
    assert {name for name, a in hints.items() if not a.read_only_hint} == CHANGING
    assert {name for name, a in hints.items() if a.open_world_hint} == OPEN_WORLD
    for name in ("restart_service", "deploy", "rollback"):
        assert hints[name].destructive_hint and not hints[name].read_only_hint, name
    exec_hints = hints["exec_diagnostic"]
    assert not exec_hints.read_only_hint and exec_hints.destructive_hint and not exec_hints.idempotent_hint
    # and they follow the policy: exec is admin-only and needs a human; a restart kills the
    # running process, while a start only adds running containers
    assert ACTIONS["exec"].min_mode is Mode.ADMIN and ACTIONS["exec"].needs_confirmation
    assert ACTIONS["restart"].destroys and not ACTIONS["start"].destroys


def test_every_declared_action_is_in_the_policy_and_unknown_ones_fail_the_build() -> None:
    for name, declared in TOOLS.items():
        assert declared.actions and set(declared.actions) <= set(ACTIONS), name
    with pytest.raises(ValueError, match="unknown action 'reboot'"):
        derive_annotations("Reboot", ("reboot",))
    with pytest.raises(ValueError, match="declares no action"):
        derive_annotations("Nothing", ())
    with pytest.raises(KeyError, match="not declared"):
        tool_annotations("undeclared_tool")
    assert declares("restart_service", "restart") and not declares("restart_service", "stop")
    assert not declares("undeclared_tool", "read")
    # one destroying action makes the whole tool destructive; a sensitive read is still a read
    mixed = derive_annotations("Mixed", ("read", "raise_memory", "lower_memory"))
    assert (mixed.read_only_hint, mixed.destructive_hint, mixed.idempotent_hint) == (False, True, True)
    assert derive_annotations("Secrets", ("read", "read_sensitive")).read_only_hint


# no dry run: a generic API call and a diagnostic command have no plan to show but themselves
# (both need admin mode and a human's confirmation instead)
NO_DRY_RUN = {"dokploy_call", "exec_diagnostic"}


async def test_mutating_tools_take_dry_run(tools: list[Any]) -> None:
    for tool in tools:
        if not tool.annotations.read_only_hint and tool.name not in NO_DRY_RUN:
            assert "dry_run" in tool.input_schema["properties"], tool.name


async def test_the_model_facing_list_stays_under_5250_tokens(tools: list[Any]) -> None:
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
    # 5,000 until issue 19 added stats_history (~270 tokens) for the dashboard's resource plots;
    # the agent's model sees its own subset of at most 15 tools in 5k (agent_host/model)
    assert len(enc.encode(json.dumps(facing))) <= 5250
