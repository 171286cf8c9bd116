"""Resolving what a tool names (appName + service, container) into Docker objects and safety Targets."""

from __future__ import annotations

from typing import Any

from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.inventory import inventory
from mcp_server.docker_ops.models import ContainerDetails, Inventory, InventoryGroup, refs_from_overview
from mcp_server.safety import Target
from mcp_server.server.context import fail
from mcp_server.server.services import Services


async def current_inventory(svc: Services) -> Inventory:
    refs: dict[str, Any] = {}
    client = await svc.dokploy_or_none()
    if client is not None:
        refs = refs_from_overview([s.model_dump(by_alias=True) for s in await client.overview_services()])
    return await inventory(svc.docker, refs)


def find_group(inv: Inventory, app_name: str) -> InventoryGroup:
    for group in inv.groups:
        if group.app_name == app_name:
            return group
    known = ", ".join(sorted(g.app_name for g in inv.groups)) or "none"
    raise fail(f"no compose project, stack or swarm service named {app_name!r} on this host; known: {known}")


async def container_target(svc: Services, container: str) -> tuple[Target, ContainerDetails]:
    details = await container_details(svc.docker, container)
    target = Target(
        kind="container",
        host=svc.host_name,
        name=details.name,
        project=details.compose_project,
        service=details.compose_service,
        image=details.image,
        labels=details.labels,
    )
    return target, details


async def service_containers(svc: Services, app_name: str, service: str) -> list[ContainerDetails]:
    inv = await inventory(svc.docker)
    group = find_group(inv, app_name)
    for s in group.services:
        if s.name == service:
            return [await container_details(svc.docker, c.name) for c in s.containers]
    names = ", ".join(s.name for s in group.services)
    raise fail(f"{app_name!r} has no service {service!r}; its services: {names}")
