"""rollback: go back to the previous version of a compose or application.

- application: Dokploy's own rollback to the stored image of the deployment before the current one
  (Dokploy keeps those only with a rollback registry);
- compose: Dokploy keeps no history, so InfraGuardian's snapshots are used: the newest snapshot
  that differs from the current file+env is written back (after snapshotting the current version,
  so the rollback can itself be undone) and the compose is redeployed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.dokploy import (
    ComposeSnapshot,
    DeployProgress,
    DokployClient,
    SnapshotStore,
    deploy_and_wait,
    snapshot_compose,
)
from mcp_server.dokploy.models import Compose
from mcp_server.safety import GuardedCall, wrap_untrusted
from mcp_server.server.arguments import AppName
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import container_targets, resolve_app
from mcp_server.server.tools._act_common import (
    GIT_SOURCES_NOTE,
    EnvChanges,
    Progress,
    env_changes,
    file_diff,
    is_git_source,
)
from mcp_server.server.tools.deploy import dokploy_app

TOOL = "rollback"
NO_ROLLBACK_POINT = (
    "no rollback point for {app}: Dokploy keeps rollback images only for applications with "
    "rollbackActive and a rollback registry (Dokploy v0.26+), and only for successful deployments "
    "older than the current one. Fix the source and use deploy instead, or ask a human"
)


class RollbackOutcome(BaseModel):
    app_name: str
    kind: Literal["compose", "application"]
    dry_run: bool
    ok: bool
    rollback_to: str = Field(description="the version it goes back to")
    compose_diff: str | None = Field(default=None, description="compose: diff now → after (secrets masked)")
    env_changes: EnvChanges | None = Field(default=None, description="compose: env names that change")
    status: str | None = Field(default=None, description="compose: the redeploy's status")
    deployment_id: str | None = None
    elapsed_s: float | None = None
    undo_snapshot_id: int | None = Field(default=None, description="snapshot of the replaced version")
    log_tail: str | None = Field(default=None, description="redeploy log end on failure (untrusted)")
    policy: str = Field(default="", description="the safety decision, with the budget used")
    notes: list[str] = Field(default_factory=list)


def previous_snapshot(store: SnapshotStore, compose: Compose) -> ComposeSnapshot | None:
    """The newest snapshot whose file or env differs from what Dokploy has now."""
    now = (compose.compose_file, compose.env or "")
    for snap in store.history(compose.compose_id, limit=store.keep):
        if (snap.compose_file, snap.env or "") != now:
            return snap
    return None


def previous_rollback_point(deployments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The rollback row of the newest successful deployment older than the current one (the
    newest successful deployment is what runs now; failed ones never ran)."""
    current_seen = False
    for row in deployments:  # newest first
        if not current_seen:
            current_seen = row.get("status") == "done"
            continue
        if row.get("status") == "done" and isinstance(row.get("rollback"), dict):
            return dict(row["rollback"])
    return None


async def _compose_rollback(
    ctx: Context,
    client: DokployClient,
    compose: Compose,
    target: ComposeSnapshot,
    result: RollbackOutcome,
    call: GuardedCall,
) -> None:
    """Snapshot the current version (the undo), write `target` back, redeploy and wait."""
    svc = services(ctx)
    progress = Progress(ctx)
    undo = await snapshot_compose(client, svc.snapshots, compose.compose_id, reason="before rollback")
    result.undo_snapshot_id = undo.id
    await client.compose_update(compose.compose_id, composeFile=target.compose_file, env=target.env)
    await progress(f"compose file of snapshot {target.id} written back; redeploying")

    async def report(update: DeployProgress) -> None:
        await progress(f"{update.message} ({update.elapsed_s:.0f} s)")

    done = await deploy_and_wait(
        client,
        "compose",
        compose.compose_id,
        redeploy=True,
        title="InfraGuardian rollback",
        timeout_s=600,
        on_progress=report,
    )
    result.ok, result.status = done.ok, done.deployment.status
    result.deployment_id, result.elapsed_s = done.deployment.deployment_id, done.elapsed_s
    if not done.ok:
        result.log_tail = wrap_untrusted(done.log_tail or "", f"deployment log of {compose.app_name}")
        call.result = "error"


async def rollback(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName")],
    dry_run: Annotated[bool, Field(description="only show the diff")] = False,
    host: DockerHostName = None,
) -> RollbackOutcome:
    """Go back to the previous version after a bad deploy: a compose's previous file+env
    (then redeploys), an application's previous image (needs a Dokploy rollback registry).
    Budget: 2 per app per hour. Calling it again undoes it."""
    svc = services(ctx)
    with tool_errors():
        docker = svc.host(host)
        client = await svc.dokploy()
        app = await resolve_app(svc, docker, app_name)
        kind, target_id = dokploy_app(app)
        result = RollbackOutcome(app_name=app_name, kind=kind, dry_run=dry_run, ok=dry_run, rollback_to="")
        compose: Compose | None = None
        snap: ComposeSnapshot | None = None
        point: dict[str, Any] | None = None
        if kind == "compose":
            compose = await client.compose_one(target_id)
            if is_git_source(compose.source_type):
                raise fail(
                    f"can't roll back {app_name!r}: {GIT_SOURCES_NOTE} (revert the commit, then deploy)"
                )
            snap = previous_snapshot(svc.snapshots, compose)
            if snap is None:
                raise fail(
                    f"no earlier version of {app_name!r} is stored: InfraGuardian snapshots a compose "
                    "before each deploy or change it makes, and none differs from the current one"
                )
            result.rollback_to = f"snapshot {snap.id} from {snap.created_at} ({snap.reason})"
            result.compose_diff = file_diff(compose.compose_file, snap.compose_file, "docker-compose.yml")
            result.env_changes = env_changes(compose.env, snap.env)
        else:
            point = previous_rollback_point(await client.rollback_points(target_id))
            if point is None:
                raise fail(NO_ROLLBACK_POINT.format(app=repr(app_name)))
            result.rollback_to = f"rollback v{point.get('version')} image {point.get('image')}"
        # every container is recreated: each is checked by the protection rules and its service
        # counts the rollback in its disruption budget
        async with guarded(
            ctx,
            tool=TOOL,
            action="rollback",
            target=app.target(),
            dry_run=dry_run,
            details={"app_name": app_name, "to": result.rollback_to},
            affected=container_targets(docker, app.containers()),
        ) as call:
            result.policy = call.decision.reason
            if not dry_run:
                if compose is not None and snap is not None:
                    await _compose_rollback(ctx, client, compose, snap, result, call)
                elif point is not None:
                    await client.rollback(str(point.get("rollbackId")))
                    result.ok = True
                    result.notes.append(
                        "Dokploy updates the swarm service to the stored image without a deployment "
                        "row; check the service status in a minute"
                    )
            call.summary = f"{'plan: ' if dry_run else ''}roll {app_name} back to {result.rollback_to}"
            return safe(result)
