"""deployment_history: Dokploy deployments of a compose or application, newest first."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.safety import Target
from mcp_server.server.arguments import AppName
from mcp_server.server.context import audit_read, fail, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName


class DeploymentRow(BaseModel):
    deployment_id: str
    status: str | None = Field(description="running, done, error or cancelled")
    title: str | None
    created_at: str | None
    finished_at: str | None


class HistoryResult(BaseModel):
    app_name: str
    dokploy_type: str
    deployments: list[DeploymentRow]
    snapshots: int = Field(
        description="compose versions InfraGuardian kept that differ from the current one (rollback points)"
    )


async def deployment_history(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName of a compose or application")],
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
    host: DockerHostName = None,
) -> HistoryResult:
    """Dokploy deployments of a compose or application, newest first (status, title, times),
    and how many compose versions are kept for rollback. Use it to ask "did a deploy start
    this?". Read one deployment's build log with deployment_log. Needs Dokploy."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        client = await svc.dokploy()
        row = next((r for r in await client.overview_services() if r.app_name == app_name), None)
        if row is None:
            raise fail(f"Dokploy has no service with appName {app_name!r}; see list_inventory")
        if row.type == "compose":
            deployments = await client.deployments_by_compose(row.id)
        elif row.type == "application":
            deployments = await client.deployments_by_application(row.id)
        else:
            raise fail(f"{app_name!r} is a Dokploy {row.type}: databases have no deployment history")
        kept = 0
        if row.type == "compose":
            # the watcher keeps the running version too: only a different one can be rolled back to
            compose = await client.compose_one(row.id)
            now = (compose.compose_file, compose.env or "")
            history = svc.snapshots.history(row.id, limit=svc.snapshots.keep)
            kept = sum(1 for snap in history if (snap.compose_file, snap.env or "") != now)
    rows = [
        DeploymentRow(
            deployment_id=d.deployment_id,
            status=d.status,
            title=d.title,
            created_at=d.created_at,
            finished_at=d.finished_at,
        )
        for d in deployments[:limit]
    ]
    await audit_read(
        ctx,
        "deployment_history",
        Target.for_dokploy(docker.name, app_name),
        {"app_name": app_name},
    )
    return safe(HistoryResult(app_name=app_name, dokploy_type=row.type, deployments=rows, snapshots=kept))
