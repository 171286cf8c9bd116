"""container_stats: CPU and memory (as `docker stats` computes them), network and block I/O."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.stats import ContainerStats
from mcp_server.docker_ops.stats import container_stats as read_stats
from mcp_server.safety import Target
from mcp_server.server.arguments import AppName, ContainerName, ServiceName
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import container_target, container_target_of, service_containers


class StatsResult(BaseModel):
    containers: list[ContainerStats]
    notes: list[str] = Field(default_factory=list)


async def container_stats(
    ctx: Context,
    app_name: Annotated[AppName | None, Field(description="Dokploy appName; with service")] = None,
    service: Annotated[ServiceName | None, Field(description="service name: all its containers")] = None,
    container: Annotated[ContainerName | None, Field(description="or one container name")] = None,
    host: DockerHostName = None,
) -> StatsResult:
    """Live resource use: CPU %, memory used (minus page cache) against the limit, network and block
    I/O, for every container of a service or one container. Use it for memory pressure and CPU
    saturation questions. Cost: about one second per container (the engine samples twice)."""
    svc = services(ctx)
    target: Target | None = None
    with tool_errors():
        docker = svc.host(host)
        if container is not None:
            target, _ = await container_target(docker, container)
            names = [container]
        elif app_name and service:
            found = await service_containers(svc, docker, app_name, service)
            names = [d.name for d in found]
            target = container_target_of(docker, found[0]) if found else None
        else:
            raise fail("pass app_name and service, or container")
        results = [await read_stats(docker, name) for name in names]
    await audit_read(
        ctx, "container_stats", target, {"app_name": app_name, "service": service, "container": container}
    )
    return safe(StatsResult(containers=results))
