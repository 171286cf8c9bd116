"""list_inventory: everything on this Docker host, grouped by Dokploy project/environment/service."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import current_inventory


class ServiceHealth(BaseModel):
    name: str
    containers: int
    running: int
    unhealthy: int
    restarts: int
    problems: list[str] = Field(description="e.g. 'api-1 exited 137 (OOMKilled)'")


class InventoryEntry(BaseModel):
    app_name: str = Field(description="Dokploy appName = compose project / swarm service name")
    kind: str = Field(description="compose, stack, swarm_service (application or database), dokploy_system")
    dokploy_type: str | None = Field(description="compose, application, postgres, ... when Dokploy knows it")
    dokploy_name: str | None
    project: str | None
    environment: str | None
    dokploy_status: str | None = Field(description="Dokploy's deploy status: idle, running, done, error")
    services: list[ServiceHealth]


class InventoryResult(BaseModel):
    host: str
    dokploy_connected: bool
    entries: list[InventoryEntry]
    unmanaged_containers: list[str] = Field(description="containers no Dokploy object explains")
    not_running: list[str] = Field(description="Dokploy services with nothing on this host")
    notes: list[str]


async def list_inventory(ctx: Context, host: DockerHostName = None) -> InventoryResult:
    """List every stack on this server: Dokploy project → environment → compose/application/database,
    each with its services and live container health (running, unhealthy, restarts, exit codes).
    Use it first to learn the app_name of each stack. Cost: one Docker scan (+1 Dokploy call)."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        inv = await current_inventory(svc, docker)
    await audit_read(ctx, "list_inventory", None, {})
    entries = []
    for g in inv.groups:
        health = []
        for s in g.services:
            problems = []
            for c in s.containers:
                if c.status != "running":
                    oom = " (OOMKilled)" if c.oom_killed else ""
                    problems.append(f"{c.name} {c.status} exit {c.exit_code}{oom}")
                elif c.health_status == "unhealthy":
                    problems.append(f"{c.name} unhealthy")
            if s.swarm_service and s.swarm_service.tasks_running < (s.swarm_service.replicas_desired or 0):
                problems.append(
                    f"{s.swarm_service.tasks_running}/{s.swarm_service.replicas_desired} tasks running"
                )
            health.append(
                ServiceHealth(
                    name=s.name,
                    containers=len(s.containers),
                    running=sum(c.status == "running" for c in s.containers),
                    unhealthy=sum(c.health_status == "unhealthy" for c in s.containers),
                    restarts=sum(c.restart_count for c in s.containers),
                    problems=problems,
                )
            )
        ref = g.dokploy
        entries.append(
            InventoryEntry(
                app_name=g.app_name,
                kind=g.kind,
                dokploy_type=ref.type if ref else None,
                dokploy_name=ref.name if ref else None,
                project=ref.project if ref else None,
                environment=ref.environment if ref else None,
                dokploy_status=ref.status if ref else None,
                services=health,
            )
        )
    client = svc._dokploy
    return safe(
        InventoryResult(
            host=docker.name,
            dokploy_connected=client is not None,
            entries=entries,
            unmanaged_containers=[c.name for c in inv.unmanaged],
            not_running=[f"{r.type} {r.name} ({r.app_name})" for r in inv.dokploy_refs_without_objects],
            notes=inv.notes,
        )
    )
