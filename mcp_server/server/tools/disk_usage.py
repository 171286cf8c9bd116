"""disk_usage: the Docker host's disk and `docker system df` (images, containers, volumes, cache)."""

from __future__ import annotations

from mcp.server.mcpserver import Context

from mcp_server.docker_ops.disk import DiskReport
from mcp_server.docker_ops.disk import disk_usage as read_disk
from mcp_server.safety import Target
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName


async def disk_usage(ctx: Context, host: DockerHostName = None) -> DiskReport:
    """Disk of the Docker host: the filesystem holding Docker's data (size, used, free) and what
    Docker uses per kind (images, containers, volumes, build cache, reclaimable space) with the
    largest volumes. Use it when something mentions 'no space left'. Cost: walks Docker's data."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        report = await read_disk(docker)
    await audit_read(ctx, "disk_usage", Target.for_host(docker.name), {})
    return safe(report)
