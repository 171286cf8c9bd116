"""service_status: state of one service of a stack (or of a swarm application/database)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.safety import Target
from mcp_server.server.arguments import AppName, ServiceName
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import pick_service, resolve_app
from mcp_server.server.tools._views import ContainerView, container_view


class ServiceStatus(BaseModel):
    app_name: str
    service: str
    kind: str = Field(description="compose, stack or swarm_service")
    containers: list[ContainerView]
    swarm_tasks: list[str] = Field(description="newest swarm task states with errors, for swarm services")
    signals: list[str] = Field(description="active detector signals on this service")


async def service_status(
    ctx: Context,
    app_name: Annotated[
        AppName, Field(description="Dokploy appName (compose project or swarm service name)")
    ],
    service: Annotated[
        ServiceName | None, Field(description="compose service name; omit for a swarm app/db")
    ] = None,
    host: DockerHostName = None,
) -> ServiceStatus:
    """Status of one service: each container's state, health (with the last failing probe output),
    restart count, exit code explained (137+OOMKilled = out of memory), limits, and active signals.
    Use it to confirm a problem and to verify a fix. Cost: a few Docker inspects."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        app = await resolve_app(svc, docker, app_name, with_dokploy=False)
        group = app.require_group()
        name = pick_service(app, service)
        chosen = next(s for s in group.services if s.name == name)
        views = [container_view(d) for d in app.containers(name)]
    tasks = []
    if chosen.swarm_service:
        for t in chosen.swarm_service.tasks[:5]:
            err = f" ({t.error})" if t.error else ""
            tasks.append(f"{t.state}/{t.desired_state} exit={t.exit_code}{err}")
    signals = []
    if svc.detectors:
        for s in svc.detectors.active_signals():
            if s.target.app_name == app_name and (s.target.service in (None, chosen.name)):
                signals.append(f"[{s.severity}] {s.summary} (runbook {s.runbook})")
    await audit_read(
        ctx,
        "service_status",
        Target.for_compose_service(docker.name, app_name, chosen.name),
        {"app_name": app_name, "service": service},
    )
    return safe(
        ServiceStatus(
            app_name=app_name,
            service=chosen.name,
            kind=group.kind,
            containers=views,
            swarm_tasks=tasks,
            signals=signals,
        )
    )
