"""Across the action tools: one audit row per call with redacted arguments, the tools' annotations,
and their size in the model's context."""

from __future__ import annotations

import json
import secrets
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client

from mcp_server.settings import Settings
from tests.mcp_server import act_fixtures as fx
from tests.mcp_server.act_fixtures import act_client, audit_rows, call, call_error

pytestmark = [pytest.mark.anyio]
act_standin, api, engine = fx.act_standin, fx.api, fx.engine

# their annotations are checked with every other tool's in test_tool_surface.py
ACT_TOOLS = (
    "restart_service",
    "start_compose",
    "stop_compose",
    "deploy",
    "rollback",
    "set_memory_limit",
    "prune",
    "exec_diagnostic",
    "dokploy_call",
)


@pytest.mark.docker
async def test_every_call_leaves_one_audit_row_with_redacted_arguments(
    make_settings: Callable[..., Settings], act_standin: Any, api: fx.StandInAPI
) -> None:
    compose_id, app = api.deployed_compose("audit")
    secret = f"hunter-{secrets.token_hex(4)}"
    calls: list[tuple[str, dict[str, Any], bool]] = [
        ("restart_service", {"app_name": app, "service": "db", "dry_run": True}, True),
        ("restart_service", {"app_name": app, "service": "db"}, True),
        ("restart_service", {"app_name": app, "service": "db"}, False),  # backoff
        ("exec_diagnostic", {"container": f"{app}-db-1", "command": "free -m"}, True),
        ("dokploy_call", {"operation": "compose.one", "input": {"composeId": compose_id}}, True),
        (
            "dokploy_call",
            {
                "operation": "compose.update",
                "input": {"composeId": compose_id, "env": f"DB_PASSWORD={secret}"},
            },
            True,
        ),
        ("set_memory_limit", {"app_name": app, "service": "db", "memory": "40m", "dry_run": True}, True),
        ("stop_compose", {"app_name": app, "dry_run": True}, True),
        ("start_compose", {"app_name": app, "dry_run": True}, True),
        ("deploy", {"app_name": app, "dry_run": True}, True),
        ("rollback", {"app_name": app, "dry_run": True}, True),
        ("prune", {"what": ["containers"], "label": f"act-tools.audit={secrets.token_hex(4)}"}, True),
    ]
    # a human confirms exec and the Dokploy mutation (legacy elicitation: one call, one row)
    async with act_client(make_settings(act_standin, safety={"mode": "admin"}), human="accept") as client:
        for tool, args, ok in calls:
            await (call if ok else call_error)(client, tool, args)
        rows = await audit_rows(client)
    assert [r["tool"] for r in rows] == [tool for tool, _, _ in calls]
    assert [r["result"] for r in rows] == [
        "dry_run", "ok", "refused", "ok", "ok", "ok", "dry_run", "dry_run", "dry_run", "dry_run", "dry_run", "dry_run"
    ]  # fmt: skip
    assert secret not in json.dumps(rows)
    assert rows[5]["arguments"]["input"]["env"] == "DB_PASSWORD=[REDACTED]"
    assert rows[6]["arguments"]["new_limit_bytes"] == 40 * 1024**2
    assert all(r["client"] and r["mode"] == "admin" and r["decision_id"] for r in rows)


async def test_each_tool_fits_its_share_of_the_context(make_settings: Callable[..., Settings]) -> None:
    with warnings.catch_warnings():  # bpe_openai loads its vocabularies with a deprecated call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding = bpe_openai.get_encoding("o200k_base")
    client: Client
    async with act_client(make_settings(None)) as client:
        tools = [t for t in (await client.list_tools()).tools if t.name in ACT_TOOLS]
    sizes = {
        t.name: len(
            encoding.encode(
                json.dumps({"name": t.name, "description": t.description, "input": t.input_schema})
            )
        )
        for t in tools
    }
    assert max(sizes.values()) <= 260, sizes
    assert sum(sizes.values()) <= 9 * 200, sizes
