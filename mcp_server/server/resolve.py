"""What a tool names, resolved once: an appName (+ service) or a container, on one Docker host,
into its Docker objects, its Dokploy record and the safety Targets the policy checks.

The one resolver every tool uses. An app is found by its labels (`docker_ops.app_lookup`: one
filtered list for a compose project), each container inspected once; the whole host is listed
only when that finds nothing, to say which names exist or to find what only the inventory groups
(Dokploy's own containers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mcp_server.docker_ops.app_lookup import app_objects
from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.inventory import inventory
from mcp_server.docker_ops.models import (
    ContainerDetails,
    DokployRef,
    Inventory,
    InventoryGroup,
    refs_from_overview,
)
from mcp_server.safety import Target
from mcp_server.server.context import fail
from mcp_server.server.services import Services


@dataclass
class App:
    """One appName as Dokploy and one Docker host know it (either may be missing), with the
    details of each of its containers on that host, read once."""

    app_name: str
    host: DockerHost
    dokploy: DokployRef | None
    group: InventoryGroup | None
    details: dict[str, ContainerDetails] = field(default_factory=dict)

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

    def containers(self, service: str | None = None) -> list[ContainerDetails]:
        """Details of the app's containers (of one service when named), in inventory order."""
        return [self.details[name] for name in self.container_names(service) if name in self.details]

    def require_group(self) -> InventoryGroup:
        """The app's Docker objects; a ToolError when this host has none."""
        if self.group is None:
            raise fail(
                f"no compose project, stack or swarm service named {self.app_name!r} on host "
                f"{self.host.name}; Dokploy knows it but nothing of it runs here (deploy it first)"
            )
        return self.group

    def target(self) -> Target:
        """The whole app: a compose project, or the swarm service of an application/database."""
        return Target.for_app(self.host.name, self.app_name, compose=self.is_compose)

    def service_target(self, service: str, first: ContainerDetails | None) -> Target:
        """One service: a compose service, a stack's swarm service `<app>_<svc>`, or the app itself."""
        image, labels = (first.image, first.labels) if first else (None, {})
        if self.group is not None and self.group.kind == "compose":
            return Target.for_compose_service(
                self.host.name, self.app_name, service, image=image, labels=labels
            )
        name = f"{self.app_name}_{service}" if self.group and self.group.kind == "stack" else service
        return Target.for_swarm_service(self.host.name, name, image=image, labels=labels)


async def dokploy_refs(svc: Services) -> dict[str, DokployRef]:
    """appName → Dokploy record, from one `overview.services` call ({} without Dokploy)."""
    client = await svc.dokploy_or_none()
    if client is None:
        return {}
    return refs_from_overview([s.model_dump(by_alias=True) for s in await client.overview_services()])


async def current_inventory(svc: Services, host: DockerHost) -> Inventory:
    """Everything on `host` (lists and inspects every container), matched to Dokploy's records."""
    return await inventory(host, await dokploy_refs(svc))


async def resolve_app(svc: Services, host: DockerHost, app_name: str, *, with_dokploy: bool = True) -> App:
    """`app_name` on `host`: its containers found by label and its Dokploy record (with_dokploy:
    one Dokploy call). A ToolError listing the known names when neither Docker nor Dokploy has it."""
    refs = await dokploy_refs(svc) if with_dokploy else {}
    found = await app_objects(host, app_name, refs)
    ref = found.group.dokploy if found.group else refs.get(app_name)
    if found.group is not None or ref is not None:
        return App(app_name, host, ref, found.group, found.details)
    # not labelled as an app: the inventory also groups Dokploy's own containers by name
    inv = await inventory(host, refs)
    group = next((g for g in inv.groups if g.app_name == app_name), None)
    if group is None:
        known = ", ".join(sorted({g.app_name for g in inv.groups} | set(refs))) or "none"
        if with_dokploy:
            raise fail(f"no app named {app_name!r} in Dokploy or on Docker host {host.name}; known: {known}")
        raise fail(
            f"no compose project, stack or swarm service named {app_name!r} on Docker host {host.name}; "
            f"known: {known}"
        )
    names = [c.name for s in group.services for c in s.containers]
    details = {d.name: d for d in [await container_details(host, n) for n in names]}
    return App(app_name, host, group.dokploy, group, details)


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


def container_target_of(host: DockerHost, details: ContainerDetails) -> Target:
    """One container as a target, with image and labels, so the protection rules see everything.
    Keyed per container (as the detectors key a container's signals), even for a swarm task:
    the action is on this container; its labels name the swarm service it counts against."""
    return Target.for_container(
        host.name,
        details.name,
        project=details.compose_project,
        service=details.compose_service,
        container_id=details.id,
        image=details.image,
        labels=details.labels,
    )


def container_targets(host: DockerHost, details: Iterable[ContainerDetails]) -> list[Target]:
    return [container_target_of(host, d) for d in details]


async def container_target(host: DockerHost, container: str) -> tuple[Target, ContainerDetails]:
    """A container named by the caller: one inspect, its target and details."""
    details = await container_details(host, container)
    return container_target_of(host, details), details


async def service_containers(
    svc: Services, host: DockerHost, app_name: str, service: str
) -> list[ContainerDetails]:
    """The containers of one service of an app on `host` (no Dokploy call)."""
    app = await resolve_app(svc, host, app_name, with_dokploy=False)
    app.require_group()
    return app.containers(pick_service(app, service))


def app_of_container(details: ContainerDetails) -> str:
    """The appName a container belongs to: its compose project, stack, swarm service or itself."""
    return details.compose_project or details.stack_namespace or details.swarm_service or details.name
