"""The tools, one module each, registered from the explicit list `TOOLS` (adding a tool = a module
and a line here, and its entry in server/annotations.py).

Each tool is a module-level async function: its name is the tool's name, its docstring what the
model reads, its typed arguments the input schema, its return model the output schema. A body
reads: arguments → domain call (docker_ops, dokploy, compose_graph, log_analysis) → the safety
guard (context.guarded / audit_read) → result. The Docker host comes from `Services.host(host)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer

from mcp_server.server.annotations import tool_annotations
from mcp_server.server.hosts import DOCKER_HOST_ARGUMENT
from mcp_server.server.tools.active_signals import active_signals
from mcp_server.server.tools.check_domain import check_domain
from mcp_server.server.tools.compose_graph import compose_graph
from mcp_server.server.tools.compose_health import compose_health
from mcp_server.server.tools.container_stats import container_stats
from mcp_server.server.tools.deploy import deploy
from mcp_server.server.tools.deployment_history import deployment_history
from mcp_server.server.tools.deployment_log import deployment_log
from mcp_server.server.tools.disk_usage import disk_usage
from mcp_server.server.tools.dokploy_call import dokploy_call
from mcp_server.server.tools.exec_diagnostic import exec_diagnostic
from mcp_server.server.tools.list_inventory import list_inventory
from mcp_server.server.tools.prune import prune
from mcp_server.server.tools.read_logs import read_logs
from mcp_server.server.tools.recent_events import recent_events
from mcp_server.server.tools.restart_service import restart_service
from mcp_server.server.tools.rollback import rollback
from mcp_server.server.tools.service_status import service_status
from mcp_server.server.tools.set_memory_limit import set_memory_limit
from mcp_server.server.tools.start_compose import start_compose
from mcp_server.server.tools.stats_history import stats_history
from mcp_server.server.tools.stop_compose import stop_compose

ToolFunction = Callable[..., Any]

# Alphabetical, as tools/list has always shown them.
TOOLS: tuple[ToolFunction, ...] = (
    active_signals,
    check_domain,
    compose_graph,
    compose_health,
    container_stats,
    deploy,
    deployment_history,
    deployment_log,
    disk_usage,
    dokploy_call,
    exec_diagnostic,
    list_inventory,
    prune,
    read_logs,
    recent_events,
    restart_service,
    rollback,
    service_status,
    set_memory_limit,
    start_compose,
    stats_history,
    stop_compose,
)


# Every tool takes `host` (the Docker host's name, None: the default). The published tool list is at
# its 5,000-token budget (tests/mcp_server/test_tool_surface.py) and `host` costs ~20 tokens a tool,
# so it stays out of the schema a model reads until a server has a second host; passing it works.
HOST_IN_SCHEMA = False


def register_tools(mcp: MCPServer) -> None:
    """Add every tool of TOOLS to `mcp`, with the annotations derived from the safety policy."""
    for fn in TOOLS:
        mcp.add_tool(fn, annotations=tool_annotations(fn.__name__))
        if not HOST_IN_SCHEMA:
            tool = mcp._tool_manager.get_tool(fn.__name__)
            assert tool is not None
            tool.parameters = _without_docker_host(tool.parameters)


def _without_docker_host(schema: dict[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    if (properties.get("host") or {}).get("description") != DOCKER_HOST_ARGUMENT:
        return schema  # no Docker host argument (check_domain's `host` is a public host name)
    return {**schema, "properties": {k: v for k, v in properties.items() if k != "host"}}
