"""What the detectors share about containers: which ones are watched, their inspected details
(cached), and a short memory of lifecycle events (who asked for a stop, who was OOM-killed).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mcp_server.docker_ops.containers import container_details
from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.host import ContainerNotFound, DockerHost, DockerOpsError
from mcp_server.docker_ops.models import (
    COMPOSE_PROJECT,
    COMPOSE_SERVICE,
    STACK_NAMESPACE,
    SWARM_SERVICE_NAME,
    ContainerDetails,
)
from mcp_server.protected import SELF_LABEL

from .base import Target
from .settings import DetectorSettings

_TRUE = frozenset({"1", "true", "yes", "on"})
# signals sent for a reload or a thread dump, not to end the process
_NON_STOP_SIGNALS = frozenset({"1", "10", "12", "28", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH", "HUP"})


def labels_in_scope(labels: dict[str, str], settings: DetectorSettings) -> bool:
    """True when a container/volume with these labels is watched under `settings`."""
    if settings.exclude_label and str(labels.get(settings.exclude_label, "")).lower() in _TRUE:
        return False
    return all(labels.get(k) == v for k, v in settings.include_labels.items())


def label_filters(settings: DetectorSettings) -> list[str]:
    """The include labels as engine-side filters (`key=value`)."""
    return [f"{k}={v}" for k, v in sorted(settings.include_labels.items())]


def target_from_labels(
    host_name: str, name: str | None, container_id: str | None, labels: dict[str, str]
) -> Target:
    """The Target of one container, from its compose/swarm labels: per container for compose and
    plain containers, the swarm service for a swarm task (task names change on reschedule)."""
    swarm_service = labels.get(SWARM_SERVICE_NAME)
    namespace = labels.get(STACK_NAMESPACE)
    display = name or (container_id or "")[:12] or "unknown"
    own = self_label(labels)
    if swarm_service:
        short = swarm_service.removeprefix(f"{namespace}_") if namespace else None
        return Target.for_container(
            host_name,
            display,
            project=namespace,
            service=short,
            swarm_service=swarm_service,
            container_id=container_id,
            labels=own,
        )
    return Target.for_container(
        host_name,
        display,
        project=labels.get(COMPOSE_PROJECT),
        service=labels.get(COMPOSE_SERVICE),
        container_id=container_id,
        labels=own,
    )


def self_label(labels: dict[str, str]) -> dict[str, str]:
    """The one label a signal's target keeps: InfraGuardian's own mark, so whoever reads the signal
    (the agent) knows at once that this is InfraGuardian itself, which it must not try to heal."""
    return {SELF_LABEL: labels[SELF_LABEL]} if labels.get(SELF_LABEL) == "true" else {}


def target_from_event(host_name: str, event: ContainerEvent) -> Target:
    return target_from_labels(host_name, event.container_name, event.container_id, event.attributes)


def service_level(target: Target) -> Target:
    """The same target one level up: the compose or swarm service when there is one (so replicas
    and recreated containers share it), else the container itself."""
    owner = target.workload()
    if owner is None or (owner is target and target.kind == "container"):
        return target
    return Target.model_validate(
        {
            **owner.model_dump(exclude={"container_name", "container_id", "image", "labels"}),
            "labels": self_label(target.labels),
        }
    )


@dataclass(frozen=True)
class ContainerRef:
    """One container from the engine's list (no inspect)."""

    id: str
    name: str
    image: str
    state: str
    status_text: str
    labels: dict[str, str]
    # the list's `Ports` rows (PrivatePort, PublicPort, IP, Type), exposed and published
    ports: tuple[dict[str, Any], ...] = ()
    # network name -> (IP address, prefix length, gateway) for each network the container is on
    networks: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    network_mode: str = ""

    @classmethod
    def from_list_entry(cls, entry: dict[str, Any]) -> ContainerRef:
        names = entry.get("Names") or []
        networks = (entry.get("NetworkSettings") or {}).get("Networks") or {}
        return cls(
            id=str(entry.get("Id", "")),
            name=str(names[0]).lstrip("/") if names else str(entry.get("Id", ""))[:12],
            image=str(entry.get("Image", "")),
            state=str(entry.get("State", "")),
            status_text=str(entry.get("Status", "")),
            labels=dict(entry.get("Labels") or {}),
            ports=tuple(p for p in entry.get("Ports") or [] if isinstance(p, dict)),
            networks={
                str(name): (
                    str(n.get("IPAddress") or ""),
                    int(n.get("IPPrefixLen") or 0),
                    str(n.get("Gateway") or ""),
                )
                for name, n in networks.items()
                if isinstance(n, dict)
            },
            network_mode=str((entry.get("HostConfig") or {}).get("NetworkMode") or ""),
        )

    def target(self, host_name: str) -> Target:
        return target_from_labels(host_name, self.name, self.id, self.labels)


class ContainerDirectory:
    """Lists watched containers and caches `docker inspect` results.

    Lists are cached for `list_max_age_s` (several detectors poll in the same second); details
    for `details_max_age_s` or until an event about the container invalidates them.
    """

    def __init__(
        self,
        host: DockerHost,
        settings: DetectorSettings,
        *,
        list_max_age_s: float = 1.0,
        details_max_age_s: float = 300.0,
        max_cached: int = 2048,
    ) -> None:
        self.host = host
        self.settings = settings
        self.list_max_age_s = list_max_age_s
        self.details_max_age_s = details_max_age_s
        self.max_cached = max_cached
        self._lists: dict[tuple[Any, ...], tuple[float, list[ContainerRef]]] = {}
        self._details: OrderedDict[str, tuple[float, ContainerDetails]] = OrderedDict()

    async def find(
        self, *, include_stopped: bool = False, status: str | None = None, health: str | None = None
    ) -> list[ContainerRef]:
        """Watched containers (running only unless `include_stopped` or a `status` is given),
        optionally filtered by status (e.g. "exited") or health (e.g. "unhealthy")."""
        key = (include_stopped, status, health)
        cached = self._lists.get(key)
        if cached and time.monotonic() - cached[0] < self.list_max_age_s:
            return cached[1]
        filters: dict[str, Any] = {}
        if labels := label_filters(self.settings):
            filters["label"] = labels
        if status:
            filters["status"] = status
        if health:
            filters["health"] = health
        raw = await self.host.read(
            lambda reads: reads.containers(all=include_stopped or bool(status), filters=filters),
            what="list containers",
        )
        refs = [ContainerRef.from_list_entry(e) for e in raw]
        refs = [r for r in refs if labels_in_scope(r.labels, self.settings)]
        self._lists[key] = (time.monotonic(), refs)
        return refs

    async def details(self, container_id: str, *, max_age_s: float | None = None) -> ContainerDetails | None:
        """Inspected details, or None when the container no longer exists."""
        limit = self.details_max_age_s if max_age_s is None else max_age_s
        cached = self._details.get(container_id)
        if cached and time.monotonic() - cached[0] < limit:
            return cached[1]
        try:
            found = await container_details(self.host, container_id)
        except ContainerNotFound:
            self.forget(container_id)
            return None
        self._details[container_id] = (time.monotonic(), found)
        self._details.move_to_end(container_id)
        while len(self._details) > self.max_cached:
            self._details.popitem(last=False)
        return found

    def remember(self, details: ContainerDetails) -> None:
        """Cache details inspected elsewhere (`status` hands over the inventory's inspects, so
        the one detector pass does not ask the engine again), as `details` caches its own."""
        self._details[details.id] = (time.monotonic(), details)
        self._details.move_to_end(details.id)
        while len(self._details) > self.max_cached:
            self._details.popitem(last=False)

    async def details_if_possible(
        self, container_id: str, *, max_age_s: float | None = None
    ) -> ContainerDetails | None:
        """Like `details`, but None also when the engine can't answer: for event handlers, which
        should still report what the event itself says."""
        try:
            return await self.details(container_id, max_age_s=max_age_s)
        except DockerOpsError:
            return None

    def forget(self, container_id: str) -> None:
        """Drop cached knowledge of a container (it started, died or was removed)."""
        self._details.pop(container_id, None)
        self._lists.clear()


class LifecycleMemory:
    """Remembers recent kill and oom events per container, to tell intended stops from crashes.

    A `docker stop`, `docker kill`, compose down or redeploy shows as `kill` then `die`; a crash
    or a restart-policy restart has no `kill`. Event times are the engine's.
    """

    def __init__(self, settings: DetectorSettings, max_containers: int = 4096) -> None:
        self.settings = settings
        self.max_containers = max_containers
        self._kills: OrderedDict[str, tuple[datetime, str | None]] = OrderedDict()
        self._ooms: OrderedDict[str, datetime] = OrderedDict()

    def note(self, event: ContainerEvent) -> None:
        if event.action == "kill" and (event.signal or "") not in _NON_STOP_SIGNALS:
            self._remember(self._kills, event.container_id, (event.time, event.signal))
        elif event.action == "stop":
            self._remember(self._kills, event.container_id, (event.time, "stop"))
        elif event.action == "oom":
            self._remember(self._ooms, event.container_id, event.time)

    def _remember(self, store: OrderedDict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self.max_containers:
            store.popitem(last=False)

    def requested_stop(self, container_id: str, at: datetime) -> bool:
        """True when someone asked this container to stop shortly before `at`."""
        kill = self._kills.get(container_id)
        if kill is None:
            return False
        window = timedelta(seconds=self.settings.requested_stop_window_s)
        return at - window <= kill[0] <= at + timedelta(seconds=1)

    def stop_requested_ever(self, container_id: str) -> bool:
        return container_id in self._kills

    def recent_oom(self, container_id: str, at: datetime, within_s: float = 60.0) -> bool:
        """True when the kernel OOM killer hit this container shortly before `at`."""
        oom = self._ooms.get(container_id)
        return oom is not None and at - timedelta(seconds=within_s) <= oom <= at + timedelta(seconds=1)
