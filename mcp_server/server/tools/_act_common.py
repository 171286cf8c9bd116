"""What the action tools share: resolving an appName to its Dokploy record and Docker objects,
safety targets for them, start order, diffs for dry runs, and progress notifications."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

import docker
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.host import get_container
from mcp_server.docker_ops.models import ContainerDetails, DokployRef, InventoryGroup
from mcp_server.docker_ops.stats import memory_without_cache
from mcp_server.redaction import redact_text
from mcp_server.safety import Target
from mcp_server.server.context import fail
from mcp_server.server.services import Services
from mcp_server.server.tools._targets import current_inventory

COMPOSE_DEPENDS_ON = "com.docker.compose.depends_on"  # "db:service_healthy:false,cache:service_started:true"
GIT_SOURCES_NOTE = "its compose file comes from git, so change it in the repository"


class ContainerOutcome(BaseModel):
    """One container before and after an action (after is None in a dry run)."""

    container: str
    status_before: str
    status_after: str | None = None
    ok: bool = True
    message: str = ""


class EnvChanges(BaseModel):
    """Env variables that differ, by name only (values are never shown)."""

    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)


@dataclass
class App:
    """One appName as Dokploy and Docker know it (either may be missing)."""

    app_name: str
    dokploy: DokployRef | None
    group: InventoryGroup | None

    @property
    def dokploy_type(self) -> str | None:
        return self.dokploy.type if self.dokploy else None

    @property
    def is_compose(self) -> bool:
        if self.dokploy is not None:
            return self.dokploy.type == "compose"
        return self.group is not None and self.group.kind in ("compose", "stack")

    def service_names(self) -> list[str]:
        return [s.name for s in self.group.services] if self.group else []

    def container_names(self, service: str | None = None) -> list[str]:
        if self.group is None:
            return []
        return [c.name for s in self.group.services if service in (None, s.name) for c in s.containers]

    def target(self, host: str) -> Target:
        """The whole app: a compose project, or the swarm service of an application/database."""
        if self.is_compose:
            return Target(kind="compose_project", host=host, project=self.app_name)
        return Target(kind="swarm_service", host=host, name=self.app_name)

    def service_target(self, host: str, service: str, first: ContainerDetails | None) -> Target:
        """One service: a compose service, a stack's swarm service `<app>_<svc>`, or the app itself."""
        image, labels = (first.image, first.labels) if first else (None, {})
        if self.group is not None and self.group.kind == "compose":
            return Target(
                kind="compose_service",
                host=host,
                project=self.app_name,
                service=service,
                image=image,
                labels=labels,
            )
        name = f"{self.app_name}_{service}" if self.group and self.group.kind == "stack" else service
        return Target(kind="swarm_service", host=host, name=name, image=image, labels=labels)


async def resolve_app(svc: Services, app_name: str) -> App:
    """The Dokploy record and Docker objects of `app_name`; a ToolError listing known names if neither."""
    inv = await current_inventory(svc)
    group = next((g for g in inv.groups if g.app_name == app_name), None)
    ref = group.dokploy if group else None
    if ref is None:
        ref = next((r for r in inv.dokploy_refs_without_objects if r.app_name == app_name), None)
    if group is None and ref is None:
        known = sorted(
            {g.app_name for g in inv.groups} | {r.app_name for r in inv.dokploy_refs_without_objects}
        )
        raise fail(
            f"no app named {app_name!r} in Dokploy or on this Docker host; known: {', '.join(known) or 'none'}"
        )
    return App(app_name=app_name, dokploy=ref, group=group)


def pick_service(app: App, service: str | None) -> str:
    """`service`, checked against the app's services; when omitted, the app's only service."""
    names = app.service_names()
    if service is None:
        if len(names) == 1:
            return names[0]
        raise fail(f"{app.app_name!r} has services {', '.join(names) or 'none'}: name one with service=")
    if service not in names:
        raise fail(f"{app.app_name!r} has no service {service!r}; its services: {', '.join(names) or 'none'}")
    return service


async def details_of(svc: Services, names: Iterable[str]) -> list[ContainerDetails]:
    return [await container_details(svc.docker, name) for name in names]


def container_targets(svc: Services, details: Iterable[ContainerDetails]) -> list[Target]:
    """Each container as a target, with image and labels, so the protection rules see everything."""
    return [
        Target(
            kind="container",
            host=svc.host_name,
            name=d.name,
            project=d.compose_project,
            service=d.compose_service,
            image=d.image,
            labels=d.labels,
        )
        for d in details
    ]


def start_order(details: list[ContainerDetails]) -> list[ContainerDetails]:
    """Containers ordered so a service's dependencies come first (compose's depends_on label);
    cycles and unknown services keep their original order at the end."""
    by_service: dict[str, list[ContainerDetails]] = {}
    for d in details:
        by_service.setdefault(d.compose_service or d.name, []).append(d)
    needs = {
        name: [
            dep.split(":", 1)[0]
            for dep in (group[0].labels.get(COMPOSE_DEPENDS_ON) or "").split(",")
            if dep.split(":", 1)[0] in by_service
        ]
        for name, group in by_service.items()
    }
    ordered: list[str] = []
    remaining = list(by_service)
    while remaining:
        ready = [n for n in remaining if all(d in ordered for d in needs[n])]
        if not ready:
            ordered += remaining
            break
        ordered += ready
        remaining = [n for n in remaining if n not in ready]
    return [d for name in ordered for d in by_service[name]]


async def memory_usage(svc: Services, container: str) -> int | None:
    """Memory in use now without page cache (like docker stats), or None when not running."""

    def read(client: docker.DockerClient) -> int | None:
        found = get_container(client, container, svc.docker.base_url)
        if not (found.attrs.get("State") or {}).get("Running"):
            return None
        raw = client.api.stats(found.id, stream=False, one_shot=True) or {}
        return memory_without_cache(raw.get("memory_stats") or {})[0]

    return await svc.docker.run(read, what=f"read memory use of {container}")


def file_diff(old: str, new: str, label: str) -> str:
    """Unified diff of two versions of a file, secrets masked on both sides."""
    a = [line + "\n" for line in redact_text(old).splitlines()]
    b = [line + "\n" for line in redact_text(new).splitlines()]
    diff = "".join(difflib.unified_diff(a, b, f"{label} (now)", f"{label} (after)"))
    if not diff and old != new:
        return "(only masked secret values differ)"
    return diff


def env_values(text: str | None) -> dict[str, str]:
    """KEY=value lines of a dotenv text (comments, blanks and `export ` prefixes handled)."""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.removeprefix("export ").split("=", 1)
        out[key.strip()] = value
    return out


def env_changes(old: str | None, new: str | None) -> EnvChanges:
    a, b = env_values(old), env_values(new)
    return EnvChanges(
        added=sorted(set(b) - set(a)),
        removed=sorted(set(a) - set(b)),
        changed=sorted(k for k in set(a) & set(b) if a[k] != b[k]),
    )


def is_git_source(source_type: str | None) -> bool:
    return source_type not in (None, "", "raw")


class Progress:
    """MCP progress notifications with an increasing step counter (no-op without a progress token)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.step = 0

    async def __call__(self, message: str) -> None:
        self.step += 1
        await self.ctx.report_progress(self.step, None, message)
