"""deploy: deploy or redeploy a compose or application through Dokploy and wait for the result.

A compose's file and env are snapshotted first, so `rollback` can go back to them (Dokploy keeps no
history of compose files)."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.dokploy import DeployProgress, deploy_and_wait, snapshot_compose
from mcp_server.safety import wrap_untrusted
from mcp_server.server.arguments import AppName
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import App, container_targets, resolve_app
from mcp_server.server.tools._act_common import Progress

TOOL = "deploy"
Kind = Literal["compose", "application"]


class DeployOutcome(BaseModel):
    app_name: str
    kind: Kind
    action: Literal["deploy", "redeploy"]
    dry_run: bool
    ok: bool = Field(description="the deployment finished with status done")
    status: str | None = Field(description="done, error or cancelled; None in a dry run")
    deployment_id: str | None
    elapsed_s: float | None
    snapshot_id: int | None = Field(description="compose snapshot taken before deploying")
    log_tail: str | None = Field(description="end of the deployment log when it failed (untrusted data)")
    policy: str = Field(description="the safety decision, with the budget used")


def dokploy_app(app: App) -> tuple[Kind, str]:
    """(compose or application, its Dokploy id); a ToolError for anything else."""
    ref = app.dokploy
    if ref is None:
        raise fail(f"Dokploy does not know {app.app_name!r}; only Dokploy composes and applications qualify")
    if ref.type == "compose":
        return "compose", ref.id
    if ref.type == "application":
        return "application", ref.id
    raise fail(f"{app.app_name!r} is a Dokploy {ref.type}; only composes and applications qualify")


async def deploy(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName")],
    redeploy: Annotated[bool, Field(description="rebuild without fetching the source")] = False,
    dry_run: bool = False,
    timeout_s: Annotated[int, Field(ge=30, le=3600)] = 600,
    host: DockerHostName = None,
) -> DeployOutcome:
    """Deploy a Dokploy compose or application and wait for the result (minutes). After a
    config fix or to recover a bad state. Returns status, deployment id, time and, on failure,
    the log tail. Budget: 3 per app per hour."""
    svc = services(ctx)
    action: Literal["deploy", "redeploy"] = "redeploy" if redeploy else "deploy"
    with tool_errors():
        docker = svc.host(host)
        client = await svc.dokploy()
        app = await resolve_app(svc, docker, app_name)
        kind, target_id = dokploy_app(app)
        async with guarded(
            ctx,
            tool=TOOL,
            action=action,
            target=app.target(),
            dry_run=dry_run,
            details={"app_name": app_name, "redeploy": redeploy, "timeout_s": timeout_s},
            affected=container_targets(docker, app.containers()),
        ) as call:
            result = DeployOutcome(
                app_name=app_name,
                kind=kind,
                action=action,
                dry_run=dry_run,
                ok=False,
                status=None,
                deployment_id=None,
                elapsed_s=None,
                snapshot_id=None,
                log_tail=None,
                policy=call.decision.reason,
            )
            if dry_run:
                call.summary = f"would {action} {kind} {app_name}"
                return safe(result)
            progress = Progress(ctx)
            if kind == "compose":
                snap = await snapshot_compose(client, svc.snapshots, target_id, reason=f"before {action}")
                result.snapshot_id = snap.id
                await progress(f"snapshot {snap.id} of the compose file taken")

            async def report(update: DeployProgress) -> None:
                await progress(f"{update.message} ({update.elapsed_s:.0f} s)")

            done = await deploy_and_wait(
                client,
                kind,
                target_id,
                redeploy=redeploy,
                title=f"InfraGuardian {action}",
                timeout_s=timeout_s,
                on_progress=report,
            )
            result.ok, result.status = done.ok, done.deployment.status
            result.deployment_id, result.elapsed_s = done.deployment.deployment_id, done.elapsed_s
            if not done.ok:
                result.log_tail = wrap_untrusted(done.log_tail or "", f"deployment log of {app_name}")
                call.result = "error"
            call.summary = f"{action} {app_name}: deployment {result.deployment_id} {result.status}"
            return safe(result)
