"""Inventory of one engine, grouped the way Dokploy thinks about it.

Dokploy names Docker objects by `appName` and adds no labels of its own, so the grouping uses
the labels Compose and Swarm write:
- compose project (label `com.docker.compose.project=<appName>`) → services → containers;
- stack (swarm services `<appName>_<svc>` with label `com.docker.stack.namespace=<appName>`);
- application or database: swarm service named `<appName>` → tasks and task containers;
- Dokploy itself: services `dokploy`, `dokploy-postgres`, … and the container `dokploy-traefik`;
- anything else is "unmanaged".
Optionally each group gets the Dokploy object (type, id, name, project, environment) that owns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mcp_server.protected import DOKPLOY_SYSTEM_CONTAINERS, DOKPLOY_SYSTEM_SERVICES

from .engine_reader import DockerPyReads, EngineApiError, EngineNotFound, EngineReads
from .host import DockerHost
from .models import (
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    STACK_NAMESPACE,
    SWARM_SERVICE_NAME,
    ContainerSummary,
    DokployRef,
    GroupKind,
    GroupService,
    Inventory,
    InventoryGroup,
    SwarmService,
    SwarmTask,
    summary_from_attrs,
)
from .timeutil import parse_docker_time

if TYPE_CHECKING:
    import docker

INSPECTS_AT_ONCE = 8
"""Engine calls `collect_raw_listed` keeps in flight (each on its own kept-alive connection)."""

MAX_TASKS_PER_SERVICE = 10
"""Swarm keeps old tasks (5 per slot by default); the newest few are enough to see a crash loop."""


@dataclass
class RawInventory:
    """What the engine returned, before grouping (kept separate so grouping is a pure function)."""

    containers: list[dict[str, Any]]
    swarm_active: bool
    services: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def collect_raw(client: docker.DockerClient) -> RawInventory:
    """Read containers (inspected), and swarm services and tasks when this node is a manager."""
    # list() inspects each container; ignore_removed skips ones deleted between list and inspect
    containers = [c.attrs for c in client.containers.list(all=True, ignore_removed=True)]
    return _with_swarm(DockerPyReads(client.api), RawInventory(containers=containers, swarm_active=False))


_HEALTH_IN_STATUS = (
    ("(unhealthy)", "unhealthy"),
    ("(healthy)", "healthy"),
    ("(health: starting)", "starting"),
)
LISTED_NOTE = (
    "running containers were read from the container list, not inspected: their restart counts "
    "and start times are not shown (the inventory tool inspects each; the detectors report crash loops)"
)


def attrs_from_list_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An inspect-shaped dict from one `GET /containers/json` entry (what the list tells: name,
    image, state, health, labels; no start time, restart count or exit code)."""
    status_text = str(entry.get("Status") or "")
    health = next((value for marker, value in _HEALTH_IN_STATUS if marker in status_text), None)
    names = entry.get("Names") or []
    return {
        "Id": entry.get("Id", ""),
        "Name": str(names[0]) if names else str(entry.get("Id", ""))[:12],
        "Image": entry.get("ImageID", ""),
        "Config": {"Image": entry.get("Image", ""), "Labels": entry.get("Labels") or {}},
        "State": {"Status": entry.get("State", "unknown"), "Health": {"Status": health} if health else None},
        "RestartCount": 0,
    }


def collect_raw_listed(reads: EngineReads) -> RawInventory:
    """Like `collect_raw`, for hosts with many containers: one list call, and an inspect only of
    the containers that are not running (for their exit code and OOM flag). On 200 running
    containers this is 1 request instead of 201. Only read calls: run it with `DockerHost.read`.
    The inspects and `/info` (slow on a busy engine) are asked side by side, a few at a time."""

    def inspect_or_none(container_id: str) -> dict[str, Any] | None:
        try:
            return reads.inspect_container(container_id)
        except EngineNotFound:
            return None  # removed between list and inspect

    with ThreadPoolExecutor(INSPECTS_AT_ONCE) as pool:
        info = pool.submit(reads.info)
        entries = reads.containers(all=True)
        stopped = [e["Id"] for e in entries if e.get("State") != "running"]
        inspected = dict(zip(stopped, pool.map(inspect_or_none, stopped), strict=True))
        raw = RawInventory(containers=[], swarm_active=False)
        listed_only = 0
        for entry in entries:
            if entry.get("State") != "running":
                if (attrs := inspected[entry["Id"]]) is not None:
                    raw.containers.append(attrs)
                continue
            raw.containers.append(attrs_from_list_entry(entry))
            listed_only += 1
        raw = _with_swarm(reads, raw, info.result())
    if listed_only:
        raw.notes.append(LISTED_NOTE)
    return raw


def _with_swarm(reads: EngineReads, raw: RawInventory, info: dict[str, Any] | None = None) -> RawInventory:
    swarm = (reads.info() if info is None else info).get("Swarm") or {}
    raw.swarm_active = swarm.get("LocalNodeState") == "active"
    if not raw.swarm_active:
        return raw
    if not swarm.get("ControlAvailable"):
        raw.notes.append(
            "this node is a swarm worker: swarm services and tasks are only visible on a manager"
        )
        return raw
    try:
        raw.services = reads.services()
        raw.tasks = reads.tasks()
    except EngineApiError as exc:
        raw.notes.append(f"could not list swarm services: {exc.explanation or exc}")
    return raw


async def inventory(
    host: DockerHost, dokploy_refs: Mapping[str, DokployRef] | None = None, *, inspect_all: bool = True
) -> Inventory:
    """Inventory of `host`, grouped by Dokploy appName.

    Args:
        host: the engine to read.
        dokploy_refs: optional appName → DokployRef (build it with `refs_from_overview` from
            Dokploy's `overview.services`); each group whose appName matches gets its `dokploy`.
        inspect_all: True inspects every container (exact restart counts and times); False reads
            long-running containers from the list only (`collect_raw_listed`: fast on big hosts).
    """
    if inspect_all:
        raw = await host.run(collect_raw, what="collect inventory")
    else:
        raw = await host.read(collect_raw_listed, what="collect inventory")
    return build_inventory(host.base_url, raw, dokploy_refs)


def _task_model(task: dict[str, Any]) -> SwarmTask:
    status = task.get("Status") or {}
    container_status = status.get("ContainerStatus") or {}
    exit_code = container_status.get("ExitCode")
    return SwarmTask(
        id=task.get("ID", ""),
        slot=task.get("Slot"),
        node_id=task.get("NodeID"),
        desired_state=task.get("DesiredState", ""),
        state=status.get("State", ""),
        message=status.get("Message", ""),
        error=status.get("Err") or None,
        exit_code=int(exit_code) if exit_code is not None else None,
        container_id=container_status.get("ContainerID") or None,
        updated_at=parse_docker_time(task.get("UpdatedAt") or status.get("Timestamp")),
    )


def _service_model(service: dict[str, Any], tasks: list[dict[str, Any]]) -> SwarmService:
    spec = service.get("Spec") or {}
    mode_spec = spec.get("Mode") or {}
    replicas: int | None = None
    mode: Literal["replicated", "global", "other"]
    if "Replicated" in mode_spec:
        mode = "replicated"
        replicas = int((mode_spec["Replicated"] or {}).get("Replicas", 0))
    elif "Global" in mode_spec:
        mode = "global"
    else:
        mode = "other"
    newest_first = sorted(tasks, key=lambda t: t.get("UpdatedAt") or "", reverse=True)
    return SwarmService(
        id=service.get("ID", ""),
        name=spec.get("Name", ""),
        image=((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""),
        mode=mode,
        replicas_desired=replicas,
        tasks_running=sum(1 for t in tasks if (t.get("Status") or {}).get("State") == "running"),
        update_state=(service.get("UpdateStatus") or {}).get("State"),
        labels=spec.get("Labels") or {},
        tasks=[_task_model(t) for t in newest_first[:MAX_TASKS_PER_SERVICE]],
    )


def _swarm_place(service_name: str, namespace: str | None) -> tuple[GroupKind, str, str]:
    """(group kind, group appName, service name inside the group) for a swarm service."""
    if namespace:
        prefix = f"{namespace}_"
        short = service_name[len(prefix) :] if service_name.startswith(prefix) else service_name
        return "stack", namespace, short
    if service_name in DOKPLOY_SYSTEM_SERVICES:
        return "dokploy_system", service_name, service_name
    return "swarm_service", service_name, service_name


class _Builder:
    def __init__(self) -> None:
        self.groups: dict[tuple[GroupKind, str], dict[str, GroupService]] = {}

    def service(self, kind: GroupKind, app_name: str, name: str) -> GroupService:
        services = self.groups.setdefault((kind, app_name), {})
        if name not in services:
            services[name] = GroupService(name=name)
        return services[name]


def build_inventory(
    base_url: str, raw: RawInventory, dokploy_refs: Mapping[str, DokployRef] | None = None
) -> Inventory:
    """Group raw engine data by Dokploy appName (pure function, no engine access)."""
    refs = dict(dokploy_refs or {})
    builder = _Builder()
    tasks_by_service: dict[str, list[dict[str, Any]]] = {}
    for task in raw.tasks:
        tasks_by_service.setdefault(task.get("ServiceID", ""), []).append(task)

    for service in raw.services:
        spec = service.get("Spec") or {}
        name = spec.get("Name", "")
        kind, app_name, short = _swarm_place(name, (spec.get("Labels") or {}).get(STACK_NAMESPACE))
        entry = builder.service(kind, app_name, short)
        entry.swarm_service = _service_model(service, tasks_by_service.get(service.get("ID", ""), []))

    unmanaged: list[ContainerSummary] = []
    for attrs in raw.containers:
        labels: dict[str, str] = (attrs.get("Config") or {}).get("Labels") or {}
        summary = summary_from_attrs(attrs)
        if SWARM_SERVICE_NAME in labels:
            kind, app_name, short = _swarm_place(labels[SWARM_SERVICE_NAME], labels.get(STACK_NAMESPACE))
            builder.service(kind, app_name, short).containers.append(summary)
        elif COMPOSE_PROJECT in labels:
            service_name = labels.get(COMPOSE_SERVICE) or "(no service label)"
            builder.service("compose", labels[COMPOSE_PROJECT], service_name).containers.append(summary)
        elif summary.name in DOKPLOY_SYSTEM_CONTAINERS:
            builder.service("dokploy_system", summary.name, summary.name).containers.append(summary)
        else:
            unmanaged.append(summary)

    groups: list[InventoryGroup] = []
    for (kind, app_name), services in sorted(builder.groups.items()):
        ordered = [services[k] for k in sorted(services)]
        for entry in ordered:
            entry.containers.sort(key=lambda c: c.name)
        containers = [c for entry in ordered for c in entry.containers]
        groups.append(
            InventoryGroup(
                kind=kind,
                app_name=app_name,
                dokploy=refs.get(app_name) if kind != "dokploy_system" else None,
                services=ordered,
                containers_total=len(containers),
                containers_running=sum(1 for c in containers if c.status == "running"),
                containers_unhealthy=sum(1 for c in containers if c.health_status == "unhealthy"),
            )
        )
    seen = {g.app_name for g in groups}
    return Inventory(
        base_url=base_url,
        collected_at=datetime.now(UTC),
        swarm_active=raw.swarm_active,
        groups=groups,
        unmanaged=sorted(unmanaged, key=lambda c: c.name),
        dokploy_refs_without_objects=[r for name, r in sorted(refs.items()) if name not in seen],
        notes=raw.notes,
    )
