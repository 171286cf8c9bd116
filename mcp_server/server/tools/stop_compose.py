"""stop_compose: stop every container of a compose project (downtime; a human confirms)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import Field

from mcp_server.server.arguments import AppName
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.tools.start_compose import ComposePowerResult, compose_power


async def stop_compose(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName of the compose")],
    dry_run: bool = False,
    host: DockerHostName = None,
) -> ComposePowerResult:
    """Stop a whole compose project (downtime; volumes kept). A human confirms, shown the
    blast radius. Only for a runaway app; prefer restart_service. Returns each container's
    status before and after."""
    return await compose_power(ctx, "stop_compose", app_name, "stop", dry_run, host)
