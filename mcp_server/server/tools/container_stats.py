"""container_stats: CPU and memory (as `docker stats` computes them), network and block I/O, of one
service, one container or a whole app (each row names its service: a noisy neighbour shows)."""

from __future__ import annotations

from typing import Annotated

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.stats import ContainerStats
from mcp_server.docker_ops.stats import container_stats as read_stats
from mcp_server.safety import Target
from mcp_server.server.arguments import AppName, ContainerName, ServiceName
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import (
    container_target,
    container_target_of,
    resolve_app,
    service_containers,
)


class ServiceStats(ContainerStats):
    service: str | None = Field(default=None, description="the compose service of the container")


class StatsResult(BaseModel):
    containers: list[ServiceStats]
    notes: list[str] = Field(default_factory=list)


async def container_stats(
    ctx: Context,
    app_name: Annotated[
        AppName | None, Field(description="Dokploy appName; with service, or alone: every service")
    ] = None,
    service: Annotated[ServiceName | None, Field(description="service name: all its containers")] = None,
    container: Annotated[ContainerName | None, Field(description="or one container name")] = None,
    host: DockerHostName = None,
) -> StatsResult:
    """Live resource use: CPU %, memory used (minus page cache) against the limit, network and block
    I/O, for every container of a service, one container, or every container of an app (app_name
    alone: which service burns the CPU the others need). Use it for memory pressure and CPU
    saturation questions. Cost: about one second (the engine samples twice; containers in parallel)."""
    svc = services(ctx)
    target: Target | None = None
    with tool_errors():
        docker = svc.host(host)
        if container is not None:
            target, details = await container_target(docker, container)
            names = {container: details.compose_service}
        elif app_name and service:
            found = await service_containers(svc, docker, app_name, service)
            names = {d.name: service for d in found}
            target = container_target_of(docker, found[0]) if found else None
        elif app_name:
            app = await resolve_app(svc, docker, app_name, with_dokploy=False)
            names = {
                name: s.name for s in app.require_group().services for name in app.container_names(s.name)
            }
            target = Target.for_app(docker.name, app_name)
        else:
            raise fail("pass app_name (with or without service), or container")
        rows: dict[str, ServiceStats] = {}

        async def sample(name: str, of_service: str | None) -> None:
            stats = await read_stats(docker, name)
            rows[name] = ServiceStats(**stats.model_dump(), service=of_service)

        async with anyio.create_task_group() as group:  # ~1 s each: sampled side by side
            for name, of_service in names.items():
                group.start_soon(sample, name, of_service)
        results = [rows[name] for name in names]
    await audit_read(
        ctx, "container_stats", target, {"app_name": app_name, "service": service, "container": container}
    )
    return safe(StatsResult(containers=results))
