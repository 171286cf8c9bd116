"""restart_service: restart every container of one service, or one container, on Docker."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.docker_ops.actions import container_action
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.arguments import AppName, ContainerName, ServiceName
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.tools._act_common import (
    ContainerOutcome,
    container_targets,
    details_of,
    pick_service,
    resolve_app,
)
from mcp_server.server.tools._targets import container_target

TOOL = "restart_service"


class RestartResult(BaseModel):
    app_name: str
    target: str = Field(description="what the safety policy checked")
    dry_run: bool
    ok: bool
    containers: list[ContainerOutcome]
    policy: str = Field(description="the safety decision, with the budget used")


def _group_of(project: str | None, stack: str | None, swarm: str | None, name: str) -> str:
    return project or stack or swarm or name


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("restart_service"))
    async def restart_service(
        ctx: Context,
        app_name: Annotated[AppName, Field(description="Dokploy appName")],
        service: Annotated[ServiceName | None, Field(description="service name: all its containers")] = None,
        container: Annotated[ContainerName | None, Field(description="or one container name")] = None,
        dry_run: bool = False,
    ) -> RestartResult:
        """Restart every container of one service of app_name, or one container. For a hung or
        crashed service, after reading its logs. Budget: 3 per service per 30 min, with waits
        between. Returns each container's status before and after (~10 s per container)."""
        svc = services(ctx)
        if bool(service) == bool(container):
            raise fail("give either service (all its containers) or container (one), not both or neither")
        with tool_errors():
            if container:
                target, one = await container_target(svc, container)
                group = _group_of(one.compose_project, one.stack_namespace, one.swarm_service, one.name)
                if group != app_name:
                    raise fail(f"container {one.name} belongs to {group!r}, not {app_name!r}")
                details = [one]
            else:
                app = await resolve_app(svc, app_name)
                name = pick_service(app, service)
                details = await details_of(svc, app.container_names(name))
                if not details:
                    raise fail(f"service {name!r} of {app_name!r} has no containers on this host")
                target = app.service_target(svc.host_name, name, details[0])
            plan = [ContainerOutcome(container=d.name, status_before=d.status) for d in details]
            async with guarded(
                ctx,
                tool=TOOL,
                action="restart",
                target=target,
                dry_run=dry_run,
                details={"app_name": app_name, "service": service, "container": container},
                affected=None if container else container_targets(svc, details),
            ) as call:
                if dry_run:
                    for step in plan:
                        step.message = "would restart"
                    call.summary = "plan: " + ", ".join(p.container for p in plan)
                else:
                    for step in plan:
                        done = await container_action(svc.docker, step.container, "restart")
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
