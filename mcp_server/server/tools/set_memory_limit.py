"""set_memory_limit: change a service's memory limit live (docker update) and keep it (compose file
or Dokploy's memoryLimit), within the safety policy's bounds.

The compose file is patched in place: only the limit's value changes, or one key is added at the top
of the service, so comments, key order and formatting stay as they were. Only when the file's shape
does not allow that (flow style, `deploy:` without a mapping) is it rewritten through the YAML
parser, which keeps key order but drops comments; the result then says so.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated, Any

import yaml
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.compose_graph import ComposeError, ComposeGraph
from mcp_server.docker_ops.actions import parse_memory_limit, parse_size, update_memory_limit
from mcp_server.dokploy import snapshot_compose
from mcp_server.dokploy.models import Compose
from mcp_server.safe_yaml import compose_yaml, load_yaml
from mcp_server.safety import Target, describe_blast_radius
from mcp_server.safety.policy import human_bytes
from mcp_server.server.annotations import tool_annotations
from mcp_server.server.arguments import AppName, ServiceName, SizeText
from mcp_server.server.context import fail, guarded, safe, services, tool_errors
from mcp_server.server.services import Services
from mcp_server.server.tools._act_common import (
    GIT_SOURCES_NOTE,
    App,
    details_of,
    file_diff,
    is_git_source,
    memory_usage,
    pick_service,
    resolve_app,
)

TOOL = "set_memory_limit"
MEMORY_PATH = ("deploy", "resources", "limits", "memory")


class PatchError(Exception):
    """The compose file can't take the new limit (the message says why)."""


class LayoutError(PatchError):
    """The file's layout can't be patched in place; a rewrite through the parser still can."""


def memory_text(value: int) -> str:
    """512 MiB → `512m`, 1 GiB → `1g`; other values stay bytes."""
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _replace(text: str, node: yaml.Node, value: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise LayoutError("the memory limit is not a plain value")
    if "$" in str(node.value):
        raise PatchError(
            f"the limit comes from a variable ({node.value}); change the variable in the env instead"
        )
    return text[: node.start_mark.index] + value + text[node.end_mark.index :]


def _insert(text: str, mapping: yaml.Node, keys: tuple[str, ...], value: str) -> str:
    """Add `keys[0]: …keys[-1]: value` as the first entry of a block mapping."""
    if not isinstance(mapping, yaml.MappingNode) or mapping.flow_style or not mapping.value:
        raise LayoutError("the service is not a block mapping")
    first = mapping.value[0][0]
    line_start = text.rfind("\n", 0, first.start_mark.index) + 1
    indent = text[line_start : first.start_mark.index]
    if indent.strip():
        raise LayoutError("unexpected layout before the service's first key")
    lines = [
        f"{indent}{'  ' * i}{key}:{' ' + value if i == len(keys) - 1 else ''}\n" for i, key in enumerate(keys)
    ]
    return text[:line_start] + "".join(lines) + text[line_start:]


def patch_memory(text: str, service: str, value: str, *, prefer_deploy: bool) -> tuple[str, str]:
    """(new compose text, how) with `service`'s memory limit set to `value`, keeping the form the
    service uses (mem_limit or deploy.resources.limits.memory), else `prefer_deploy`'s form."""
    try:
        root = compose_yaml(text, what="the compose file", loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PatchError(f"the compose file is not valid YAML: {exc}") from None
    node = _child(_child(root, "services"), service)
    if not isinstance(node, yaml.MappingNode):
        raise PatchError(f"the compose file has no service {service!r}")
    old_mem = _child(node, "mem_limit")
    old_swap = _child(node, "memswap_limit")
    patched, how = _patch_limit(text, node, value, prefer_deploy=prefer_deploy)
    return _fit_memswap(patched, service, value, how, old_mem, old_swap)


def _fit_memswap(
    text: str, service: str, value: str, how: str, old_mem: yaml.Node | None, old_swap: yaml.Node | None
) -> tuple[str, str]:
    """`memswap_limit` is memory + swap and must not be below the memory limit, or the next
    `docker compose up` fails; when a raise passes it, keep the same amount of swap on top."""
    if not isinstance(old_swap, yaml.ScalarNode) or old_swap.value.strip() in ("-1", ""):
        return text, how
    try:
        swap_bytes = parse_size(old_swap.value, "memswap_limit")
        new_bytes = parse_size(value, "memory")
    except Exception:  # a ${VAR} we cannot evaluate: leave it to the operator
        return text, how
    if swap_bytes >= new_bytes:
        return text, how
    extra = 0
    if isinstance(old_mem, yaml.ScalarNode):
        with contextlib.suppress(Exception):
            extra = max(0, swap_bytes - parse_size(old_mem.value, "mem_limit"))
    swap = _child(
        _child(_child(compose_yaml(text, loader=yaml.SafeLoader), "services"), service), "memswap_limit"
    )
    assert swap is not None  # the memory patch never removes it
    return _replace(
        text, swap, memory_text(new_bytes + extra)
    ), f"{how}; memswap_limit raised to keep its swap"


def _patch_limit(text: str, node: yaml.MappingNode, value: str, *, prefer_deploy: bool) -> tuple[str, str]:
    mem = _child(node, "mem_limit")
    if mem is not None:
        return _replace(text, mem, value), "mem_limit changed"
    deepest: yaml.Node = node
    depth = 0
    for key in MEMORY_PATH:
        found = _child(deepest, key)
        if found is None:
            break
        deepest, depth = found, depth + 1
    if depth == len(MEMORY_PATH):
        return _replace(text, deepest, value), "deploy.resources.limits.memory changed"
    if not prefer_deploy:
        return _insert(text, node, ("mem_limit",), value), "mem_limit added"
    return _insert(text, deepest, MEMORY_PATH[depth:], value), "deploy.resources.limits.memory added"


def rewrite_memory(text: str, service: str, value: str, *, prefer_deploy: bool) -> str:
    """Fallback: parse, set, dump (key order kept, comments lost)."""
    data = load_yaml(text, what="the compose file")
    svc: dict[str, Any] = data["services"][service]
    if "mem_limit" in svc or not prefer_deploy:
        svc["mem_limit"] = value
    else:
        deploy = svc["deploy"] = svc.get("deploy") or {}
        resources = deploy["resources"] = deploy.get("resources") or {}
        limits = resources["limits"] = resources.get("limits") or {}
        limits["memory"] = value
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def uses_deploy_form(text: str) -> bool:
    """True when the file sets limits only as deploy.resources.limits.memory."""
    try:
        data = load_yaml(text, what="the compose file")
    except yaml.YAMLError:
        return False
    services = (data.get("services") if isinstance(data, dict) else None) or {}
    rows = [s for s in services.values() if isinstance(s, dict)] if isinstance(services, dict) else []

    def memory(row: dict[str, Any]) -> Any:
        step: Any = row
        for key in MEMORY_PATH:
            step = step.get(key) if isinstance(step, dict) else None
        return step

    return any(memory(s) for s in rows) and not any("mem_limit" in s for s in rows)


class ContainerMemory(BaseModel):
    container: str
    old_limit: str = Field(description="'none' = unlimited")
    new_limit: str
    usage: str | None = Field(description="memory in use now (None when stopped)")
    ok: bool


class MemoryResult(BaseModel):
    app_name: str
    service: str
    dry_run: bool
    ok: bool
    action: str = Field(description="raise_memory or lower_memory (admin)")
    new_limit_bytes: int
    containers: list[ContainerMemory]
    persisted: bool = Field(description="the compose file or Dokploy setting is (or would be) changed")
    persist_note: str
    compose_diff: str | None = Field(description="compose: the file change (secrets masked)")
    policy: str = Field(description="the safety decision, with the budget used")


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
        how = "file rewritten by the YAML parser (comments dropped)"
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


def register(mcp: MCPServer) -> None:
    @mcp.tool(annotations=tool_annotations("set_memory_limit"))
    async def set_memory_limit(
        ctx: Context,
        app_name: Annotated[AppName, Field(description="Dokploy appName")],
        service: Annotated[ServiceName, Field(description="an application's is its appName")],
        memory: Annotated[SizeText, Field(description="e.g. '512m', '1g'")],
        dry_run: bool = False,
        persist: bool = True,
    ) -> MemoryResult:
        """Set a service's memory limit live, without restart, and save it (persist). For OOM kills.
        Operate mode may raise up to 2× (max 4 GiB, 3 per day); lowering or a first limit needs
        admin and a human. Returns old/new limit per container and the file diff."""
        svc = services(ctx)
        with tool_errors():
            new = parse_memory_limit(memory, "memory")
            app = await resolve_app(svc, app_name)
            name = pick_service(app, service)
            details = await details_of(svc, app.container_names(name))
            if not details:
                raise fail(f"service {name!r} of {app_name!r} has no containers on this host")
            limits = {d.name: d.limits.memory_bytes or 0 for d in details}
            if all(limit == new for limit in limits.values()):
                raise fail(f"the limit is already {human_bytes(new)} on every container of {name!r}")
            usage = {d.name: await memory_usage(svc, d.name) if d.running else None for d in details}
            current = max(limits.values())
            used = max((u for u in usage.values() if u is not None), default=None)
            action = "raise_memory" if current and new > current else "lower_memory"
            plan = await _plan_persist(svc, app, name, memory_text(new), persist)
            target = app.service_target(svc.host_name, name, details[0])
            diff = None
            if plan.compose is not None and plan.new_file is not None:
                diff = file_diff(plan.compose.compose_file, plan.new_file, "docker-compose.yml")
            rows = [_row(n, limits[n], new, usage[n]) for n in limits]
            confirm = _blast(target, plan, name, current, new, used) if action == "lower_memory" else None
            async with guarded(
                ctx,
                tool=TOOL,
                action=action,
                target=target,
                dry_run=dry_run,
                details={
                    "current_limit_bytes": current,
                    "new_limit_bytes": new,
                    "current_usage_bytes": used,
                    "service": name,
                    "persist": persist,
                },
                confirm_message=confirm,
            ) as call:
                if not dry_run:
                    for row in rows:
                        change = await update_memory_limit(svc.docker, row.container, new)
                        row.ok = change.ok
                    await _apply_persist(svc, plan, new)
                    call.summary = f"{action} {name} to {human_bytes(new)}; kept: {plan.planned}"
                    if not all(r.ok for r in rows):
                        call.result = "error"
                return safe(
                    MemoryResult(
                        app_name=app_name,
                        service=name,
                        dry_run=dry_run,
                        ok=all(r.ok for r in rows),
                        action=action,
                        new_limit_bytes=new,
                        containers=rows,
                        persisted=plan.planned,
                        persist_note=plan.note,
                        compose_diff=diff,
                        policy=call.decision.reason,
                    )
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
