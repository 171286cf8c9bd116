"""One app's Docker objects, found by label instead of by listing the whole engine.

`inventory()` reads every container (one inspect each) and every swarm service and task; a tool
that acts on one appName needs only that app's objects. Compose and Swarm label what they create:
- compose project: containers with `com.docker.compose.project=<appName>`;
- stack: containers and services with `com.docker.stack.namespace=<appName>`;
- application or database: the swarm service named `<appName>` and its task containers
  (`com.docker.swarm.service.name=<appName>`).
The compose filter is tried first (Dokploy's usual case, one list request); swarm is read only
when it finds nothing. What is found goes through the same pure grouping as the inventory
(`build_inventory`), so an app looks the same whichever way it was read, and each container's
inspect data is kept, so nobody needs to inspect it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from .host import DockerHost
from .inventory import RawInventory, build_inventory
from .models import (
    COMPOSE_PROJECT,
    STACK_NAMESPACE,
    SWARM_SERVICE_NAME,
    ContainerDetails,
    DokployRef,
    InventoryGroup,
    details_from_attrs,
)


@dataclass
class AppObjects:
    """What the engine holds for one appName: its group (None when nothing) and each container's
    details by name, read once."""

    app_name: str
    group: InventoryGroup | None
    details: dict[str, ContainerDetails] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _labelled(client: docker.DockerClient, label: str) -> list[dict[str, Any]]:
    # list() inspects each match (not the whole engine); ignore_removed skips ones deleted meanwhile
    found = client.containers.list(all=True, ignore_removed=True, filters={"label": label})
    return [c.attrs for c in found]


def collect_app_raw(client: docker.DockerClient, app_name: str) -> RawInventory:
    """The raw engine data of one appName (blocking; run it through `DockerHost.run`)."""
    containers = _labelled(client, f"{COMPOSE_PROJECT}={app_name}")
    if containers:
        return RawInventory(containers=containers, swarm_active=False)
    swarm = client.info().get("Swarm") or {}
    raw = RawInventory(containers=[], swarm_active=swarm.get("LocalNodeState") == "active")
    if not raw.swarm_active:
        return raw
    by_id: dict[str, dict[str, Any]] = {}
    for label in (f"{STACK_NAMESPACE}={app_name}", f"{SWARM_SERVICE_NAME}={app_name}"):
        for attrs in _labelled(client, label):
            by_id[attrs.get("Id", "")] = attrs
    raw.containers = list(by_id.values())
    if not swarm.get("ControlAvailable"):
        raw.notes.append(
            "this node is a swarm worker: swarm services and tasks are only visible on a manager"
        )
        return raw
    try:
        services = {
            s["ID"]: s for s in client.api.services(filters={"label": f"{STACK_NAMESPACE}={app_name}"})
        }
        # the name filter matches prefixes: keep the exact name only
        for s in client.api.services(filters={"name": app_name}):
            if (s.get("Spec") or {}).get("Name") == app_name:
                services[s["ID"]] = s
        raw.services = list(services.values())
        if services:
            raw.tasks = client.api.tasks(filters={"service": list(services)})
    except docker.errors.APIError as exc:
        raw.notes.append(f"could not list swarm services: {exc.explanation or exc}")
    return raw


async def app_objects(
    host: DockerHost, app_name: str, dokploy_refs: Mapping[str, DokployRef] | None = None
) -> AppObjects:
    """The group of `app_name` on `host` (None when the engine has nothing of it), with each
    container's details. `dokploy_refs` as for `inventory()`."""
    raw = await host.run(lambda client: collect_app_raw(client, app_name), what=f"find app {app_name}")
    inv = build_inventory(host.base_url, raw, dokploy_refs)
    group = next((g for g in inv.groups if g.app_name == app_name), None)
    details = {}
    for attrs in raw.containers:
        one = details_from_attrs(attrs)
        details[one.name] = one
    return AppObjects(app_name=app_name, group=group, details=details, notes=raw.notes)
