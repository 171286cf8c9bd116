"""start_compose: start every container of a compose project (through Dokploy when it knows the
compose, else on Docker). `compose_power` is shared with stop_compose."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.compose_graph import ComposeError, ComposeGraph
from mcp_server.docker_ops.actions import container_action
from mcp_server.docker_ops.app_lookup import app_objects
from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.models import ContainerDetails
from mcp_server.dokploy import DokployClient
from mcp_server.dokploy.models import Compose
from mcp_server.safety import describe_blast_radius
from mcp_server.server.arguments import AppName
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import App, container_targets, resolve_app
from mcp_server.server.services import Services
from mcp_server.server.tools._act_common import ContainerOutcome, start_order

Power = Literal["start", "stop"]


class ComposePowerResult(BaseModel):
    app_name: str
    action: Power
    via: Literal["dokploy", "docker"]
    dry_run: bool
    ok: bool = Field(description="every container ended running (start) or stopped (stop)")
    containers: list[ContainerOutcome]
    confirmation: str | None = Field(description="stop: the blast radius a human approves")
    policy: str = Field(description="the safety decision")
    notes: list[str]


async def _dokploy_compose(svc: Services, app: App, notes: list[str]) -> tuple[DokployClient, Compose] | None:
    client = await svc.dokploy_or_none()
    if client is not None and app.dokploy is not None and app.dokploy.type == "compose":
        return client, await client.compose_one(app.dokploy.id)
    if svc.settings.dokploy_configured:
        notes.append("Dokploy is unreachable or does not know this app: acted on Docker directly")
    return None


def _service_names(compose: Compose | None, app: App, notes: list[str]) -> list[str]:
    """Services in start order (from the compose file when Dokploy has it)."""
    if compose is not None:
        try:
            return ComposeGraph.from_text(compose.compose_file, env_file_text=compose.env).start_order()
        except ComposeError as exc:
            notes.append(f"could not read the compose file for the dependency order: {exc}")
    return app.service_names()


async def _docker_power(docker: DockerHost, action: Power, details: list[ContainerDetails]) -> None:
    ordered = start_order(details)
    for d in ordered if action == "start" else list(reversed(ordered)):
        if (action == "start") != d.running:  # already in the wanted state otherwise
            await container_action(docker, d.name, action)


async def compose_power(
    ctx: Context, tool: str, app_name: str, action: Power, dry_run: bool, host: str | None
) -> ComposePowerResult:
    """Start or stop a whole compose project, gated by the safety policy (stop asks a human)."""
    svc = services(ctx)
    notes: list[str] = []
    with tool_errors():
        docker = svc.host(host)
        app = await resolve_app(svc, docker, app_name)
        if not app.is_compose:
            kind = app.dokploy_type or (app.group.kind if app.group else "service")
            raise fail(f"{app_name!r} is not a compose (type: {kind}); use restart_service, or Dokploy")
        dokploy = await _dokploy_compose(svc, app, notes)
        if dokploy is None and app.group is not None and app.group.kind == "stack":
            raise fail(f"{app_name!r} is a swarm stack: start/stop it through Dokploy (not configured here)")
        details = app.containers()
        if dokploy is None and not details:
            raise fail(f"{app_name!r} has no containers on this host; deploy it first")
        names = _service_names(dokploy[1] if dokploy else None, app, notes)
        target = app.target()
        confirmation = None
        if action == "stop":
            confirmation = describe_blast_radius(
                target,
                names,
                f"Every container of the project stops ({len(details)}); volumes and data are kept, "
                "start_compose starts it again.",
                action="stop",
            )
        plan = [ContainerOutcome(container=d.name, status_before=d.status) for d in details]
        async with guarded(
            ctx,
            tool=tool,
            action=action,
            target=target,
            dry_run=dry_run,
            details={"app_name": app_name, "via": "dokploy" if dokploy else "docker"},
            affected=container_targets(docker, details),
            confirm_message=confirmation,
        ) as call:
            if dry_run:
                for step in plan:
                    step.message = f"would {action}"
            else:
                if dokploy is not None:
                    client, compose = dokploy
                    await (client.compose_start if action == "start" else client.compose_stop)(
                        compose.compose_id
                    )
                else:
                    await _docker_power(docker, action, details)
                plan = await _after(docker, app_name, action, plan)
                if not all(p.ok for p in plan):
                    call.result = "error"
            call.summary = f"{action} {app_name}: " + ", ".join(
                f"{p.container} {p.status_after}" for p in plan
            )
            return safe(
                ComposePowerResult(
                    app_name=app_name,
                    action=action,
                    via="dokploy" if dokploy else "docker",
                    dry_run=dry_run,
                    ok=dry_run or all(p.ok for p in plan),
                    containers=plan,
                    confirmation=confirmation,
                    policy=call.decision.reason,
                    notes=notes,
                )
            )


async def _after(
    docker: DockerHost, app_name: str, action: Power, plan: list[ContainerOutcome]
) -> list[ContainerOutcome]:
    """Read the project's containers again (an `up -d` may have created new ones)."""
    found = await app_objects(docker, app_name)  # whatever is there now, possibly nothing
    before = {p.container: p.status_before for p in plan}
    out = []
    services = found.group.services if found.group else []
    for d in [found.details[c.name] for s in services for c in s.containers if c.name in found.details]:
        ok = d.running if action == "start" else not d.running
        out.append(
            ContainerOutcome(
                container=d.name,
                status_before=before.get(d.name, "absent"),
                status_after=d.status,
                ok=ok,
                message="" if ok else f"still {d.status} after {action}",
            )
        )
    return out


async def start_compose(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName of the compose")],
    dry_run: bool = False,
    host: DockerHostName = None,
) -> ComposePowerResult:
    """Start a stopped compose project, dependencies first (through Dokploy when it manages
    it). Returns each container's status before and after. Uses the restart budget."""
    return await compose_power(ctx, "start_compose", app_name, "start", dry_run, host)
