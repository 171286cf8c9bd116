"""Pydantic models for containers and the Dokploy-shaped inventory.

Sizes are bytes, times are aware UTC datetimes, `None` means "not set / unknown". Field names
say their unit (`memory_bytes`, `nano_cpus`) so a reader never has to guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .timeutil import parse_docker_time

# labels written by Docker Compose and Swarm (Dokploy adds none of its own)
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
STACK_NAMESPACE = "com.docker.stack.namespace"
SWARM_SERVICE_NAME = "com.docker.swarm.service.name"
SWARM_TASK_ID = "com.docker.swarm.task.id"


class DokployRef(BaseModel):
    """Which Dokploy object owns a group of Docker objects (from Dokploy's `overview.services`)."""

    type: str = Field(description="application, compose, postgres, mysql, mariadb, mongo, redis, libsql")
    id: str = Field(description="the Dokploy id of the object (applicationId, composeId, postgresId, …)")
    name: str = Field(description="the display name in Dokploy")
    app_name: str = Field(description="the appName: the Docker project/service name")
    project: str | None = None
    environment: str | None = None
    project_id: str | None = None
    environment_id: str | None = None
    status: str | None = Field(default=None, description="Dokploy's own status: idle, running, done, error")


def refs_from_overview(services: list[dict[str, Any]]) -> dict[str, DokployRef]:
    """Build the appName → DokployRef mapping from the body of Dokploy's `overview.services`."""
    refs: dict[str, DokployRef] = {}
    for item in services:
        app_name = item.get("appName")
        if not app_name:
            continue
        refs[app_name] = DokployRef(
            type=str(item.get("type") or "unknown"),
            id=str(item.get("id") or ""),
            name=str(item.get("name") or app_name),
            app_name=app_name,
            project=item.get("projectName"),
            environment=item.get("environmentName"),
            project_id=item.get("projectId"),
            environment_id=item.get("environmentId"),
            status=item.get("status"),
        )
    return refs


class HealthProbe(BaseModel):
    """One run of the container's HEALTHCHECK command."""

    start: datetime | None
    end: datetime | None
    exit_code: int = Field(description="0 = healthy, 1 = unhealthy, other = the probe itself failed")
    output: str


class Health(BaseModel):
    """The HEALTHCHECK state: status and the last probes (Docker keeps the last 5)."""

    status: str = Field(description="starting, healthy or unhealthy")
    failing_streak: int
    probes: list[HealthProbe]


class Limits(BaseModel):
    """Resource limits of a container. `None` means no limit."""

    memory_bytes: int | None
    memory_reservation_bytes: int | None
    memory_swap_bytes: int | None = Field(description="memory+swap limit; -1 = unlimited swap")
    nano_cpus: int | None = Field(description="CPU limit in billionths of a CPU (1e9 = one CPU)")
    cpus: float | None = Field(description="nano_cpus as a number of CPUs, e.g. 0.5")
    cpu_quota: int | None
    cpu_period: int | None
    cpu_shares: int | None
    pids_limit: int | None


class RestartPolicy(BaseModel):
    name: str = Field(description="no, always, unless-stopped or on-failure")
    maximum_retry_count: int


class ContainerSummary(BaseModel):
    """What the inventory shows for each container."""

    id: str
    name: str
    image: str
    status: str = Field(description="created, running, paused, restarting, exited, dead")
    health_status: str | None = Field(description="healthy, unhealthy, starting, or None without check")
    restart_count: int
    exit_code: int | None = Field(description="exit code of the last run; None while it never ran")
    oom_killed: bool
    started_at: datetime | None
    finished_at: datetime | None


class MountInfo(BaseModel):
    type: str
    source: str = Field(description="volume name for volumes, host path for binds")
    destination: str
    read_write: bool


class ContainerDetails(ContainerSummary):
    """Everything needed to judge a container's state (from `docker inspect`)."""

    image_id: str
    created: datetime | None
    running: bool
    paused: bool
    restarting: bool
    error: str | None = Field(description="the engine's error for the last start, if any")
    health: Health | None
    limits: Limits
    restart_policy: RestartPolicy
    command: list[str]
    labels: dict[str, str]
    compose_project: str | None
    compose_service: str | None
    swarm_service: str | None
    stack_namespace: str | None
    networks: list[str]
    mounts: list[MountInfo]
    tty: bool


def _none_if_zero(value: Any) -> int | None:
    return int(value) if value else None


def summary_from_attrs(attrs: dict[str, Any]) -> ContainerSummary:
    """Build a ContainerSummary from a `docker inspect` dict."""
    return ContainerSummary(**_summary_fields(attrs))


def _summary_fields(attrs: dict[str, Any]) -> dict[str, Any]:
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    health = state.get("Health") or None
    started = parse_docker_time(state.get("StartedAt"))
    return {
        "id": attrs.get("Id", ""),
        "name": str(attrs.get("Name", "")).lstrip("/"),
        "image": config.get("Image") or attrs.get("Image", ""),
        "status": state.get("Status", "unknown"),
        "health_status": health.get("Status") if health else None,
        "restart_count": int(attrs.get("RestartCount") or 0),
        "exit_code": int(state.get("ExitCode", 0)) if started else None,
        "oom_killed": bool(state.get("OOMKilled")),
        "started_at": started,
        "finished_at": parse_docker_time(state.get("FinishedAt")),
    }


def details_from_attrs(attrs: dict[str, Any]) -> ContainerDetails:
    """Build ContainerDetails from a `docker inspect` dict."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    host_config = attrs.get("HostConfig") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    raw_health = state.get("Health")
    health = None
    if raw_health:
        health = Health(
            status=raw_health.get("Status", "unknown"),
            failing_streak=int(raw_health.get("FailingStreak") or 0),
            probes=[
                HealthProbe(
                    start=parse_docker_time(p.get("Start")),
                    end=parse_docker_time(p.get("End")),
                    exit_code=int(p.get("ExitCode", -1)),
                    output=str(p.get("Output", "")),
                )
                for p in raw_health.get("Log") or []
            ],
        )
    nano_cpus = _none_if_zero(host_config.get("NanoCpus"))
    pids_limit = host_config.get("PidsLimit")
    restart = host_config.get("RestartPolicy") or {}
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return ContainerDetails(
        **_summary_fields(attrs),
        image_id=attrs.get("Image", ""),
        created=parse_docker_time(attrs.get("Created")),
        running=bool(state.get("Running")),
        paused=bool(state.get("Paused")),
        restarting=bool(state.get("Restarting")),
        error=state.get("Error") or None,
        health=health,
        limits=Limits(
            memory_bytes=_none_if_zero(host_config.get("Memory")),
            memory_reservation_bytes=_none_if_zero(host_config.get("MemoryReservation")),
            memory_swap_bytes=_none_if_zero(host_config.get("MemorySwap")),
            nano_cpus=nano_cpus,
            cpus=nano_cpus / 1e9 if nano_cpus else None,
            cpu_quota=_none_if_zero(host_config.get("CpuQuota")),
            cpu_period=_none_if_zero(host_config.get("CpuPeriod")),
            cpu_shares=_none_if_zero(host_config.get("CpuShares")),
            # 0 and -1 both mean "no limit" to the engine
            pids_limit=int(pids_limit) if pids_limit and pids_limit > 0 else None,
        ),
        restart_policy=RestartPolicy(
            name=restart.get("Name") or "no",
            maximum_retry_count=int(restart.get("MaximumRetryCount") or 0),
        ),
        command=[str(attrs.get("Path", ""))] + [str(a) for a in attrs.get("Args") or []],
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT),
        compose_service=labels.get(COMPOSE_SERVICE),
        swarm_service=labels.get(SWARM_SERVICE_NAME),
        stack_namespace=labels.get(STACK_NAMESPACE),
        networks=sorted(networks),
        mounts=[
            MountInfo(
                type=m.get("Type", ""),
                source=m.get("Name") or m.get("Source", ""),
                destination=m.get("Destination", ""),
                read_write=bool(m.get("RW", True)),
            )
            for m in attrs.get("Mounts") or []
        ],
        tty=bool(config.get("Tty")),
    )


class SwarmTask(BaseModel):
    """One swarm task (one attempt to run one replica)."""

    id: str
    slot: int | None
    node_id: str | None
    desired_state: str
    state: str = Field(description="running, failed, rejected, shutdown, complete, pending, …")
    message: str
    error: str | None
    exit_code: int | None
    container_id: str | None
    updated_at: datetime | None


class SwarmService(BaseModel):
    """A swarm service with its most recent tasks."""

    id: str
    name: str
    image: str
    mode: Literal["replicated", "global", "other"]
    replicas_desired: int | None
    tasks_running: int
    update_state: str | None = Field(description="updating, paused, completed, rollback_* or None")
    labels: dict[str, str]
    tasks: list[SwarmTask]


class GroupService(BaseModel):
    """One service inside a group: a compose service, a stack service, or a swarm service."""

    name: str = Field(description="compose service name, stack service short name, or service name")
    swarm_service: SwarmService | None = None
    containers: list[ContainerSummary] = Field(default_factory=list)


GroupKind = Literal["compose", "stack", "swarm_service", "dokploy_system"]


class InventoryGroup(BaseModel):
    """Docker objects that belong to one Dokploy appName.

    kind: `compose` = a compose project (-p appName); `stack` = a swarm stack (compose of type
    stack); `swarm_service` = an application or database (swarm service named appName);
    `dokploy_system` = Dokploy's own services (dokploy, dokploy-postgres, dokploy-traefik, …).
    """

    kind: GroupKind
    app_name: str
    dokploy: DokployRef | None = None
    services: list[GroupService]
    containers_total: int = 0
    containers_running: int = 0
    containers_unhealthy: int = 0


class Inventory(BaseModel):
    """Everything on one engine, grouped the way Dokploy thinks about it."""

    base_url: str
    collected_at: datetime
    swarm_active: bool
    groups: list[InventoryGroup]
    unmanaged: list[ContainerSummary] = Field(description="containers no Dokploy object explains")
    dokploy_refs_without_objects: list[DokployRef] = Field(
        description="Dokploy objects with no container or service on this engine (never deployed, "
        "stopped, or deployed to another server)"
    )
    notes: list[str] = Field(default_factory=list)
