"""set_memory_limit: change a service's memory limit live (docker update) and keep it (compose file
or Dokploy's memoryLimit), within the safety policy's bounds.

A raise is also checked against the host's free memory (docker_ops/host_memory.py): the policy
refuses one that would leave less than `memory_headroom_reserve_bytes` available. Where that is
unknown (a remote engine) the raise is not refused on it and the result says so.

The compose file is edited by `mcp_server.compose_edit`: only the limit's value changes, or one key
is added at the top of the service, so comments, key order and formatting stay as they were. Only
when the file's shape does not allow that (e.g. a flow-style service) is the whole file written by
the round-trip YAML library, which keeps comments and order but not the layout; the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.compose_edit import EditError as PatchError
from mcp_server.compose_edit import (
    LayoutError,
    memory_text,
    patch_memory,
    rewrite_memory,
    uses_deploy_form,
)
from mcp_server.compose_graph import ComposeError, ComposeGraph
from mcp_server.docker_ops.actions import parse_memory_limit, update_memory_limit
from mcp_server.docker_ops.host_memory import HostMemory, host_memory
from mcp_server.dokploy import snapshot_compose
from mcp_server.dokploy.models import Compose
from mcp_server.safety import Mode, Target, describe_blast_radius
from mcp_server.safety.policy import MemoryChange, human_bytes, memory_headroom
from mcp_server.safety.settings import SafetySettings
from mcp_server.server.arguments import AppName, ServiceName, SizeText
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.hosts import DockerHostName
from mcp_server.server.resolve import App, pick_service, resolve_app
from mcp_server.server.services import Services
from mcp_server.server.tools._act_common import (
    GIT_SOURCES_NOTE,
    file_diff,
    is_git_source,
    memory_usage,
)

TOOL = "set_memory_limit"


class ContainerMemory(BaseModel):
    container: str
    old_limit: str = Field(description="'none' = unlimited")
    new_limit: str
    usage: str | None = Field(description="memory in use now (None when stopped)")
    ok: bool
    started_now: bool = Field(
        default=False, description="it waited in Docker's restart back-off and was started with the new limit"
    )


class MemoryResult(BaseModel):
    app_name: str
    service: str
    dry_run: bool
    ok: bool
    action: str = Field(
        description="raise_memory, revert_memory (undo of this server's own raise) or lower_memory (admin)"
    )
    undoes: str | None = Field(default=None, description="revert_memory: the raise by this server it undoes")
    new_limit_bytes: int
    containers: list[ContainerMemory]
    persisted: bool = Field(description="the compose file or Dokploy setting is (or would be) changed")
    persist_note: str
    compose_diff: str | None = Field(description="compose: the file change (secrets masked)")
    policy: str = Field(description="the safety decision, with the budget used")
    host_available: str | None = Field(description="the host's available memory now; None = unknown")
    host_headroom: str = Field(
        description="what the raise leaves the host against its reserve, or why unknown"
    )
    host_limits_granted: str | None = Field(
        description="running containers' limits added up (limits overcommit: shown, never refused on)"
    )


@dataclass
class Persist:
    """How the new limit is kept: a patched compose file, Dokploy's memoryLimit, or not at all."""

    note: str
    compose: Compose | None = None
    new_file: str | None = None
    application_id: str | None = None

    @property
    def planned(self) -> bool:
        return self.new_file is not None or self.application_id is not None


async def _plan_persist(svc: Services, app: App, service: str, value: str, persist: bool) -> Persist:
    if not persist:
        return Persist("persist=false: live change only, the next deploy or recreate resets it")
    client = await svc.dokploy_or_none()
    if client is None or app.dokploy is None:
        return Persist("not kept: Dokploy does not manage this app; the next recreate resets it")
    if app.dokploy.type == "application":
        return Persist(
            "Dokploy memoryLimit set; applied at the next deploy or reload", application_id=app.dokploy.id
        )
    if app.dokploy.type != "compose":
        return Persist(f"not kept: set memoryLimit of this {app.dokploy.type} in Dokploy")
    compose = await client.compose_one(app.dokploy.id)
    if is_git_source(compose.source_type):
        return Persist(f"not kept: {GIT_SOURCES_NOTE}", compose=compose)
    prefer_deploy = compose.compose_type == "stack" or uses_deploy_form(compose.compose_file)
    try:
        new_file, how = patch_memory(compose.compose_file, service, value, prefer_deploy=prefer_deploy)
    except LayoutError:
        new_file = rewrite_memory(compose.compose_file, service, value, prefer_deploy=prefer_deploy)
        how = "file rewritten by the YAML library (comments and key order kept, layout normalised)"
    except PatchError as exc:
        return Persist(f"not kept: {exc}", compose=compose)
    return Persist(
        f"compose file: {how}; applied by the live change now and at every deploy", compose, new_file
    )


def _blast(target: Target, persist: Persist, service: str, old: int, new: int, used: int | None) -> str:
    dependants: list[str] = []
    if persist.compose is not None:
        try:
            graph = ComposeGraph.from_text(persist.compose.compose_file, env_file_text=persist.compose.env)
            dependants = graph.blast_radius(service)
        except ComposeError:
            dependants = []
    usage = human_bytes(used) if used is not None else "unknown"
    extra = (
        f"Memory limit {human_bytes(old) if old else 'none'} → {human_bytes(new)}; it uses {usage} now. "
        "The kernel kills it if it needs more."
    )
    return describe_blast_radius(target, dependants, extra, action="lower_memory")


async def set_memory_limit(
    ctx: Context,
    app_name: Annotated[AppName, Field(description="Dokploy appName")],
    service: Annotated[ServiceName, Field(description="an application's is its appName")],
    memory: Annotated[SizeText, Field(description="e.g. '512m', '1g'")],
    dry_run: bool = False,
    persist: bool = True,
    host: DockerHostName = None,
) -> MemoryResult:
    """Set a service's memory limit live, without restart, and save it. For OOM kills. Operate
    mode may raise up to 2× (max 4 GiB, 3/day) within the host's memory reserve, or undo its own
    raise (24 h); other lowering needs admin and a human. Returns old/new limits and the diff."""
    svc = services(ctx)
    with tool_errors():
        new = parse_memory_limit(memory, "memory")
        docker = svc.host(host)
        app = await resolve_app(svc, docker, app_name)
        name = pick_service(app, service)
        details = app.containers(name)
        if not details:
            raise fail(f"service {name!r} of {app_name!r} has no containers on this host")
        limits = {d.name: d.limits.memory_bytes or 0 for d in details}
        if all(limit == new for limit in limits.values()):
            raise fail(f"the limit is already {human_bytes(new)} on every container of {name!r}")
        usage = {d.name: await memory_usage(docker, d.name) if d.running else None for d in details}
        current = max(limits.values())
        used = max((u for u in usage.values() if u is not None), default=None)
        plan = await _plan_persist(svc, app, name, memory_text(new), persist)
        target = app.service_target(name, details[0])
        diff = None
        if plan.compose is not None and plan.new_file is not None:
            diff = file_diff(plan.compose.compose_file, plan.new_file, "docker-compose.yml")
        rows = [_row(n, limits[n], new, usage[n]) for n in limits]
        on_host = await host_memory(docker)
        requested = MemoryChange(
            current_limit_bytes=current,
            new_limit_bytes=new,
            current_usage_bytes=used,
            container_count=len(rows),
            host_available_bytes=on_host.available_bytes,
            host_total_bytes=on_host.total_bytes,
            host_limits_granted_bytes=on_host.limits_granted_bytes,
            container_limits_bytes=sorted(set(limits.values())),
        )
        action, undoes = await _memory_action(svc, target, requested)
        confirm = _blast(target, plan, name, current, new, used) if action == "lower_memory" else None
        async with guarded(
            ctx,
            tool=TOOL,
            action=action,
            target=target,
            dry_run=dry_run,
            details={**requested.model_dump(), "service": name, "persist": persist},
            confirm_message=confirm,
        ) as call:
            if not dry_run:
                for row in rows:  # a waiting container is started for a raise only (an undo waits)
                    change = await update_memory_limit(
                        docker, row.container, new, start_if_waiting=action == "raise_memory"
                    )
                    row.ok, row.started_now = change.ok, change.started_now
                await _apply_persist(svc, plan, new)
                started = [r.container for r in rows if r.started_now]
                call.summary = f"{action} {name} to {human_bytes(new)}; kept: {plan.planned}" + (
                    f"; started now (waited in the restart back-off): {', '.join(started)}" if started else ""
                )
                if not all(r.ok for r in rows):
                    call.result = "error"
            return safe(
                MemoryResult(
                    app_name=app_name,
                    service=name,
                    dry_run=dry_run,
                    ok=all(r.ok for r in rows),
                    action=action,
                    undoes=undoes,
                    new_limit_bytes=new,
                    containers=rows,
                    persisted=plan.planned,
                    persist_note=plan.note,
                    compose_diff=diff,
                    policy=call.decision.reason,
                    host_available=_size(on_host.available_bytes),
                    host_headroom=_headroom_line(requested, on_host, action, svc.safety.settings),
                    host_limits_granted=_granted_line(on_host),
                )
            )


async def _memory_action(svc: Services, target: Target, change: MemoryChange) -> tuple[str, str | None]:
    """The policy action of `change`, and for a revert the raise it undoes. Lowering a set limit
    is revert_memory when the audit log shows it undoes this server's own last raise (operate
    mode may do that), and in operate mode in any case: it is the only lowering that mode has,
    and the gate's refusal then says why this is no undo. Otherwise lowering (or a first limit)
    is lower_memory: admin mode and a human."""
    current = change.current_limit_bytes or 0
    if current and change.new_limit_bytes > current:
        return "raise_memory", None
    if not current:
        return "lower_memory", None
    undo = await svc.safety.revert_check(target, change.model_dump())
    if undo.allowed or not svc.safety.mode.allows(Mode.ADMIN):
        return "revert_memory", undo.undoes or None
    return "lower_memory", None


def _size(value: int | None) -> str | None:
    return human_bytes(value) if value is not None else None


def _headroom_line(change: MemoryChange, on_host: HostMemory, action: str, settings: SafetySettings) -> str:
    if action != "raise_memory":
        return "a lower limit needs no host headroom"
    headroom = memory_headroom(change, settings)
    if headroom is None:
        return f"host headroom unknown ({on_host.unknown_reason}): the raise is not checked against the host's free memory"
    return headroom.line()


def _granted_line(on_host: HostMemory) -> str | None:
    if on_host.limits_granted_bytes is None:
        return None
    total = f" of {human_bytes(on_host.total_bytes)} total" if on_host.total_bytes else ""
    return (
        f"{human_bytes(on_host.limits_granted_bytes)}{total} in the limits of {on_host.limited_containers} "
        f"of {on_host.running_containers} running containers"
    )


def _row(container: str, old: int, new: int, used: int | None) -> ContainerMemory:
    return ContainerMemory(
        container=container,
        old_limit=human_bytes(old) if old else "none",
        new_limit=human_bytes(new),
        usage=human_bytes(used) if used is not None else None,
        ok=True,
    )


async def _apply_persist(svc: Services, plan: Persist, new: int) -> None:
    client = await svc.dokploy_or_none()
    if client is None:
        if plan.planned:
            raise fail("the live limit is set, but Dokploy became unreachable before it was saved; retry")
        return
    if plan.application_id is not None:
        await client.application_update(plan.application_id, memoryLimit=str(new))
    elif plan.compose is not None and plan.new_file is not None:
        await snapshot_compose(
            client, svc.snapshots, plan.compose.compose_id, reason="before set_memory_limit"
        )
        await client.compose_update(plan.compose.compose_id, composeFile=plan.new_file)
