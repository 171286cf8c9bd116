"""restart_service: restart every container of one service, or one container, on Docker."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.actions import container_action
from mcp_server.server.arguments import AppName, ContainerName, ServiceName
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import (
    app_of_container,
    container_target,
    container_targets,
    pick_service,
    resolve_app,
)
from mcp_server.server.tools._act_common import ContainerOutcome

TOOL = "restart_service"


class RestartResult(BaseModel):
    app_name: str
    target: str = Field(description="what the safety policy checked")
    dry_run: bool
    ok: bool
    containers: list[ContainerOutcome]
    policy: str = Field(description="the safety decision, with the budget used")


async def restart_service(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName")],
    service: Annotated[ServiceName | None, Field(description="service name: all its containers")] = None,
    container: Annotated[ContainerName | None, Field(description="or one container name")] = None,
    dry_run: bool = False,
    host: DockerHostName = None,
) -> RestartResult:
    """Restart every container of one service of app_name, or one container. For a hung or
    crashed service, after reading its logs. Budget: 3 per service per 30 min, with waits
    between. Returns each container's status before and after (~10 s per container)."""
    svc = services(ctx)
    if bool(service) == bool(container):
        raise fail("give either service (all its containers) or container (one), not both or neither")
    with tool_errors():
        docker = svc.host(host)
        if container:
            target, one = await container_target(docker, container)
            if app_of_container(one) != app_name:
                raise fail(f"container {one.name} belongs to {app_of_container(one)!r}, not {app_name!r}")
            details = [one]
        else:
            app = await resolve_app(svc, docker, app_name)
            name = pick_service(app, service)
            details = app.containers(name)
            if not details:
                raise fail(f"service {name!r} of {app_name!r} has no containers on this host")
            target = app.service_target(name, details[0])
        plan = [ContainerOutcome(container=d.name, status_before=d.status) for d in details]
        async with guarded(
            ctx,
            tool=TOOL,
            action="restart",
            target=target,
            dry_run=dry_run,
            details={"app_name": app_name, "service": service, "container": container},
            affected=None if container else container_targets(docker, details),
        ) as call:
            if dry_run:
                for step in plan:
                    step.message = "would restart"
                call.summary = "plan: " + ", ".join(p.container for p in plan)
            else:
                for step in plan:
                    done = await container_action(docker, step.container, "restart")
                    step.status_after, step.ok, step.message = done.status_after, done.ok, done.message
                call.summary = "restarted " + ", ".join(p.container for p in plan)
                if not all(p.ok for p in plan):
                    call.result = "error"
            return safe(
                RestartResult(
                    app_name=app_name,
                    target=target.describe(),
                    dry_run=dry_run,
                    ok=all(p.ok for p in plan),
                    containers=plan,
                    policy=call.decision.reason,
                )
            )
