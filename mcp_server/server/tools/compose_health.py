"""compose_health: one report for a whole stack — every service, its containers and problems."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.safety import Target
from mcp_server.server.arguments import AppName
from mcp_server.server.context import audit_read, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import resolve_app
from mcp_server.server.tools._views import ContainerView, container_view


class ServiceReport(BaseModel):
    service: str
    verdict: str = Field(description="ok, degraded or down")
    containers: list[ContainerView]


class ComposeHealth(BaseModel):
    app_name: str
    verdict: str = Field(description="ok when every service is ok, else degraded or down")
    services: list[ServiceReport]
    signals: list[str]
    dokploy_status: str | None


def _verdict(views: list[ContainerView]) -> str:
    if not views:
        return "down"
    running = [v for v in views if v.status == "running"]
    if not running:
        return "down"
    if len(running) < len(views) or any(v.health == "unhealthy" for v in running):
        return "degraded"
    return "ok"


async def compose_health(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName of the compose stack")],
    host: DockerHostName = None,
) -> ComposeHealth:
    """Health report of a whole compose stack: a verdict per service (ok/degraded/down) with each
    container's state, health probe, restarts and exit code, plus active signals. Use it to see
    which service of a stack is the problem. Cost: one inspect per container."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        app = await resolve_app(svc, docker, app_name, with_dokploy=False)
        group = app.require_group()
        reports = []
        for s in group.services:
            views = [container_view(d) for d in app.containers(s.name)]
            reports.append(ServiceReport(service=s.name, verdict=_verdict(views), containers=views))
    verdicts = {r.verdict for r in reports}
    overall = "ok" if verdicts <= {"ok"} else ("down" if verdicts == {"down"} else "degraded")
    signals = []
    if svc.detectors:
        signals = [
            f"[{s.severity}] {s.summary} (runbook {s.runbook})"
            for s in svc.detectors.active_signals()
            if s.target.app_name == app_name
        ]
    await audit_read(
        ctx,
        "compose_health",
        Target.for_app(docker.name, app_name),
        {"app_name": app_name},
    )
    return safe(
        ComposeHealth(
            app_name=app_name,
            verdict=overall,
            services=reports,
            signals=signals,
            dokploy_status=group.dokploy.status if group.dokploy else None,
        )
    )
