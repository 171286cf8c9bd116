"""service_status: state of one service of a stack (or of a swarm application/database)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.inventory import inventory
from mcp_server.safety import Target
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.arguments import AppName, ServiceName
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.tools._targets import find_group
from mcp_server.server.tools._views import ContainerView, container_view


class ServiceStatus(BaseModel):
    app_name: str
    service: str
    kind: str = Field(description="compose, stack or swarm_service")
    containers: list[ContainerView]
    swarm_tasks: list[str] = Field(description="newest swarm task states with errors, for swarm services")
    signals: list[str] = Field(description="active detector signals on this service")


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("service_status"))
    async def service_status(
        ctx: Context,
        app_name: Annotated[
            AppName, Field(description="Dokploy appName (compose project or swarm service name)")
        ],
        service: Annotated[
            ServiceName | None, Field(description="compose service name; omit for a swarm app/db")
        ] = None,
    ) -> ServiceStatus:
        """Status of one service: each container's state, health (with the last failing probe output),
        restart count, exit code explained (137+OOMKilled = out of memory), limits, and active signals.
        Use it to confirm a problem and to verify a fix. Cost: a few Docker inspects."""
        svc = services(ctx)
        with tool_errors():
            group = find_group(await inventory(svc.docker), app_name)
            names = [s.name for s in group.services]
            if service is None:
                if len(group.services) != 1:
                    raise fail(f"{app_name!r} has several services ({', '.join(names)}): pass service")
                chosen = group.services[0]
            else:
                matches = [s for s in group.services if s.name == service]
                if not matches:
                    raise fail(f"{app_name!r} has no service {service!r}; its services: {', '.join(names)}")
                chosen = matches[0]
            views = [container_view(await container_details(svc.docker, c.name)) for c in chosen.containers]
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
            Target(kind="compose_service", host=svc.host_name, project=app_name, service=chosen.name),
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
