"""disk_usage: the Docker host's disk and `docker system df` (images, containers, volumes, cache)."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

from mcp_server.docker_ops.disk import DiskReport
from mcp_server.docker_ops.disk import disk_usage as read_disk
from mcp_server.safety import Target
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.context import audit_read, safe, services, tool_errors


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("disk_usage"))
    async def disk_usage(ctx: Context) -> DiskReport:
        """Disk of the Docker host: the filesystem holding Docker's data (size, used, free) and what
        Docker uses per kind (images, containers, volumes, build cache, reclaimable space) with the
        largest volumes. Use it when something mentions 'no space left'. Cost: walks Docker's data."""
        svc = services(ctx)
        with tool_errors():
            report = await read_disk(svc.docker)
        await audit_read(ctx, "disk_usage", Target(kind="host", host=svc.host_name), {})
        return safe(report)
