from __future__ import annotations

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_inventory_lists_tools_and_runs(mcp_client: Client) -> None:
    tools = {t.name for t in (await mcp_client.list_tools()).tools}
    assert "list_inventory" in tools
    result = await mcp_client.call_tool("list_inventory", {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["host"] == "local"


async def test_service_status_unknown_stack_is_a_clear_error(mcp_client: Client) -> None:
    result = await mcp_client.call_tool("service_status", {"app_name": "nope-000000"})
    assert result.is_error
    assert "no compose project, stack or swarm service named 'nope-000000'" in result.content[0].text
