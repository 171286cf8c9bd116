"""Actions on containers: start/stop/restart/kill one container or every container of a compose
service, and a live memory-limit change.

Guards (each refusal is an `ActionRefused` with the reason):
- protected containers (`mcp_server.protected`, the same rules the safety layer applies: Dokploy's
  dokploy-traefik and the tasks of its services, anything else named dokploy*/…traefik…, and
  InfraGuardian itself) are never stopped or killed unless `allow_protected=True`: that would take
  the platform down;
- a swarm task container is never stopped: swarm would just start a replacement; scale the
  service instead (in Dokploy);
- a memory limit below what the container uses now is refused unless `allow_below_usage=True`:
  the kernel would OOM-kill it at once.
Live limit changes are lost when Dokploy redeploys (the container is recreated); the result says so.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

import docker
import docker.errors
from docker.models.containers import Container
from pydantic import BaseModel, Field

from mcp_server.protected import DOKPLOY_SYSTEM_CONTAINERS, DOKPLOY_SYSTEM_SERVICES, builtin_reason

from .host import (
    ActionRefused,
    ComposeServiceNotFound,
    DockerHost,
    InvalidArgument,
    get_container,
    translate_error,
)
from .models import COMPOSE_PROJECT, COMPOSE_SERVICE, STACK_NAMESPACE, SWARM_SERVICE_NAME
from .stats import memory_without_cache

ContainerAction = Literal["start", "stop", "restart", "kill"]
ACTIONS: tuple[ContainerAction, ...] = ("start", "stop", "restart", "kill")
KILL_SIGNALS = frozenset({"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"})
MIN_MEMORY_BYTES = 6 * 1024 * 1024
"""The engine refuses memory limits below 6 MiB."""


class ContainerActionResult(BaseModel):
    container: str
    id: str
    action: ContainerAction
    status_before: str
    status_after: str
    ok: bool
    message: str


class ServiceActionResult(BaseModel):
    """The same action applied to every container of one compose service."""

    project: str
    service: str
    action: ContainerAction
    ok: bool = Field(description="True when it worked for every container")
    results: list[ContainerActionResult]


class MemoryLimitChange(BaseModel):
    """A live memory-limit change, with the values read back from the engine afterwards."""

    container: str
    id: str
    old_memory_bytes: int | None = Field(description="None = no limit before")
    new_memory_bytes: int
    old_memory_swap_bytes: int | None = Field(description="memory+swap; -1 = unlimited swap")
    new_memory_swap_bytes: int
    memory_usage_bytes: int | None = Field(description="use (without page cache) when changed")
    ok: bool = Field(description="True when the engine now reports the requested values")
    started_now: bool = Field(
        default=False,
        description="it was waiting in Docker's restart back-off and was started with the new limit",
    )
    note: str


def _protection_reason(container: Container) -> str | None:
    """Why `container` must not be stopped or killed: the rules of `mcp_server.protected`, the same
    ones the safety layer applies, with a plainer reason for Dokploy's own containers."""
    config = container.attrs.get("Config") or {}
    labels = config.get("Labels") or {}
    if container.name in DOKPLOY_SYSTEM_CONTAINERS:
        return f"{container.name} is Dokploy's reverse proxy: stopping it takes every site offline"
    service = labels.get(SWARM_SERVICE_NAME)
    if service in DOKPLOY_SYSTEM_SERVICES:
        return f"{container.name} runs Dokploy itself (service {service})"
    names = [container.name, *(labels.get(k) for k in (COMPOSE_PROJECT, COMPOSE_SERVICE, SWARM_SERVICE_NAME))]
    names.append(labels.get(STACK_NAMESPACE))
    reason = builtin_reason([n.lstrip("/").lower() for n in names if n], config.get("Image"), labels)
    return f"{container.name}: {reason}" if reason else None


def _check_action(container: Container, action: str, signal: str, allow_protected: bool) -> None:
    if action not in ACTIONS:
        raise InvalidArgument(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if action == "kill" and signal not in KILL_SIGNALS:
        raise InvalidArgument(f"signal {signal!r} not allowed; use one of {', '.join(sorted(KILL_SIGNALS))}")
    status = (container.attrs.get("State") or {}).get("Status", "")
    if action in ("stop", "kill"):
        reason = _protection_reason(container)
        if reason and not allow_protected:
            raise ActionRefused(f"refusing to {action} {container.name}: {reason}")
        service = ((container.attrs.get("Config") or {}).get("Labels") or {}).get(SWARM_SERVICE_NAME)
        if action == "stop" and service:
            raise ActionRefused(
                f"refusing to stop {container.name}: it is a task of swarm service {service}, which would "
                "start a replacement; scale the service to 0 (stop it in Dokploy) instead"
            )
        if status not in ("running", "restarting", "paused"):
            raise ActionRefused(f"refusing to {action} {container.name}: it is not running (status {status})")


def _act(container: Container, action: ContainerAction, timeout: int, signal: str) -> None:
    if action == "start":
        container.start()
    elif action == "stop":
        container.stop(timeout=timeout)
    elif action == "restart":
        container.restart(timeout=timeout)
    else:
        container.kill(signal=signal)


def _act_and_report(
    container: Container, action: ContainerAction, timeout: int, signal: str, base_url: str
) -> ContainerActionResult:
    before = (container.attrs.get("State") or {}).get("Status", "")
    try:
        _act(container, action, timeout, signal)
        ok, message = True, f"{action} done"
    except docker.errors.APIError as exc:
        ok, message = False, str(translate_error(exc, base_url, f"{action} {container.name}"))
    container.reload()
    after = (container.attrs.get("State") or {}).get("Status", "")
    return ContainerActionResult(
        container=container.name,
        id=container.id or "",
        action=action,
        status_before=before,
        status_after=after,
        ok=ok,
        message=message,
    )


async def container_action(
    host: DockerHost,
    name: str,
    action: ContainerAction,
    *,
    grace_seconds: int = 10,
    signal: str = "SIGKILL",
    allow_protected: bool = False,
) -> ContainerActionResult:
    """start / stop / restart / kill one container.

    Args:
        grace_seconds: seconds to wait after SIGTERM before SIGKILL (stop, restart).
        signal: signal name for kill (SIGKILL, SIGTERM, SIGHUP, …).
        allow_protected: also act on Dokploy's own containers (only when a human asked for it).
    """

    def run(client: docker.DockerClient) -> ContainerActionResult:
        container = get_container(client, name, host.base_url)
        _check_action(container, action, signal, allow_protected)
        return _act_and_report(container, action, grace_seconds, signal, host.base_url)

    return await host.run(run, what=f"{action} container {name}")


def compose_service_containers(client: docker.DockerClient, project: str, service: str) -> list[Container]:
    """Containers of one compose service (all states, without `docker compose run` one-offs)."""
    found = client.containers.list(
        all=True,
        filters={"label": [f"{COMPOSE_PROJECT}={project}", f"{COMPOSE_SERVICE}={service}"]},
        ignore_removed=True,
    )
    one_off = "com.docker.compose.oneoff"
    return sorted(
        (c for c in found if ((c.attrs.get("Config") or {}).get("Labels") or {}).get(one_off) != "True"),
        key=lambda c: c.name,
    )


async def compose_service_action(
    host: DockerHost,
    project: str,
    service: str,
    action: ContainerAction,
    *,
    grace_seconds: int = 10,
    signal: str = "SIGKILL",
    allow_protected: bool = False,
) -> ServiceActionResult:
    """The same action on every container of compose project `project` (the Dokploy appName),
    service `service`. Containers are handled one after the other; each gets its own result."""

    def run(client: docker.DockerClient) -> ServiceActionResult:
        containers = compose_service_containers(client, project, service)
        if not containers:
            raise ComposeServiceNotFound(project, service, host.base_url)
        results = []
        for container in containers:
            try:
                _check_action(container, action, signal, allow_protected)
            except ActionRefused as refused:
                status = (container.attrs.get("State") or {}).get("Status", "")
                results.append(
                    ContainerActionResult(
                        container=container.name,
                        id=container.id or "",
                        action=action,
                        status_before=status,
                        status_after=status,
                        ok=False,
                        message=str(refused),
                    )
                )
                continue
            results.append(_act_and_report(container, action, grace_seconds, signal, host.base_url))
        return ServiceActionResult(
            project=project, service=service, action=action, ok=all(r.ok for r in results), results=results
        )

    return await host.run(run, what=f"{action} compose service {project}/{service}")


_SIZE = re.compile(r"^(\d{1,15}(?:\.\d{1,9})?)\s?([kmgtp]?)(?:i?b)?$", re.IGNORECASE)
_UNIT_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
MAX_SIZE_BYTES = 1024**5
"""Sizes above 1 PiB are refused: no memory limit is that big, and they overflow the engine's int64."""
MAX_MEMORY_BYTES = 1024**4
"""Memory limits above 1 TiB are refused: more than any host this server runs on."""
_SIZE_EXAMPLE = "send a size like '512m' or '2g' (units b, k, m, g, t; binary, as Docker reads them)"


def parse_size(value: int | str, what: str) -> int:
    """Bytes from an int or a size like "512m", "1g", "1.5g", "256MiB", "1024" (bytes).

    Units are binary like Docker's (`1k` = 1024). Refuses with InvalidArgument, naming `what` and
    what to send instead: exponents (`1e309`), `nan`, `inf`, negative sizes, unknown units and
    anything above 1 PiB. A plain int is taken as is (`-1` means "unlimited" for swap).
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgument(f"{what} must be a size; {_SIZE_EXAMPLE}")
    if isinstance(value, int):
        if value > MAX_SIZE_BYTES:
            raise InvalidArgument(f"{what} {value} is more than 1 PiB; {_SIZE_EXAMPLE}")
        return value
    text = value.strip()
    match = _SIZE.match(text)
    if match is None:
        shown = text[:40] + ("…" if len(text) > 40 else "")
        why = "is negative" if text.startswith("-") else "is not a size"
        raise InvalidArgument(f"{what} {shown!r} {why}; {_SIZE_EXAMPLE}")
    size = int(Decimal(match.group(1)) * _UNIT_BYTES[match.group(2).lower()])
    if size > MAX_SIZE_BYTES:
        raise InvalidArgument(f"{what} {text!r} is more than 1 PiB; {_SIZE_EXAMPLE}")
    return size


def parse_memory_limit(value: int | str, what: str = "memory") -> int:
    """A container memory limit in bytes: parse_size, then at least 6 MiB (the engine's minimum)
    and at most 1 TiB. InvalidArgument says which bound was crossed and what to send."""
    size = parse_size(value, what)
    if size < MIN_MEMORY_BYTES:
        raise InvalidArgument(
            f"{what} {value!r} is below the engine's minimum of 6 MiB; send at least '6m', e.g. '256m'"
        )
    if size > MAX_MEMORY_BYTES:
        raise InvalidArgument(f"{what} {value!r} is more than 1 TiB; send a size like '512m' or '4g'")
    return size


def plan_swap(old_memory: int, old_swap: int, new_memory: int) -> int:
    """memory+swap for a new memory limit, keeping the container's swap allowance.

    -1 (unlimited swap) stays -1; an existing allowance (swap - memory) is kept; without limits
    before, it is 2 x memory, the engine's own default when a container is created with -m."""
    if old_swap == -1:
        return -1
    if old_swap > 0 and old_memory > 0:
        return new_memory + max(old_swap - old_memory, 0)
    return new_memory * 2


def _memory_note(labels: dict[str, str]) -> str:
    if labels.get(SWARM_SERVICE_NAME):
        return (
            "live change only: swarm recreates this task with the service's limit on the next deploy; "
            "set the memory limit in Dokploy to keep it"
        )
    if labels.get(COMPOSE_PROJECT):
        return (
            "live change only: the next Dokploy deploy recreates the container from the compose file; "
            "change mem_limit/deploy.resources there to keep it"
        )
    return "live change only: it is lost if the container is recreated"


async def update_memory_limit(
    host: DockerHost,
    name: str,
    memory: int | str,
    *,
    memory_swap: int | str | None = None,
    allow_below_usage: bool = False,
    start_if_waiting: bool = False,
) -> MemoryLimitChange:
    """Change a running container's memory limit live (`docker update --memory`).

    Args:
        memory: new limit: bytes or a size like "512m", "1g" (at least 6m).
        memory_swap: memory+swap limit (>= memory, or -1 for unlimited swap). Default: keep the
            container's current swap allowance (see `plan_swap`).
        allow_below_usage: allow a limit below current use (the kernel would OOM-kill at once).
        start_if_waiting: a container waiting in Docker's restart back-off (an OOM loop: up to a
            minute between starts) is started now, so the new limit applies at once.
    """
    new_memory = parse_memory_limit(memory, "memory")
    explicit_swap = parse_size(memory_swap, "memory_swap") if memory_swap is not None else None
    if explicit_swap is not None and explicit_swap != -1 and explicit_swap < new_memory:
        raise InvalidArgument(
            f"memory_swap ({explicit_swap}) must be >= memory ({new_memory}) or -1 for unlimited swap: "
            "it is the limit for memory plus swap"
        )

    def run(client: docker.DockerClient) -> MemoryLimitChange:
        container = get_container(client, name, host.base_url)
        host_config: dict[str, Any] = container.attrs.get("HostConfig") or {}
        old_memory = int(host_config.get("Memory") or 0)
        old_swap = int(host_config.get("MemorySwap") or 0)
        reservation = int(host_config.get("MemoryReservation") or 0)
        if reservation and new_memory < reservation:
            raise ActionRefused(
                f"refusing: new memory limit {new_memory} is below the container's memory reservation "
                f"{reservation}; lower the reservation first"
            )
        usage: int | None = None
        if (container.attrs.get("State") or {}).get("Running"):
            usage, _, _ = memory_without_cache(
                (client.api.stats(container.id, stream=False, one_shot=True) or {}).get("memory_stats") or {}
            )
            if usage > new_memory and not allow_below_usage:
                raise ActionRefused(
                    f"refusing: {container.name} uses {usage} bytes now, more than the new limit "
                    f"{new_memory}; the kernel would OOM-kill it. Pass allow_below_usage=True if intended"
                )
        new_swap = explicit_swap if explicit_swap is not None else plan_swap(old_memory, old_swap, new_memory)
        container.update(mem_limit=new_memory, memswap_limit=new_swap)
        container.reload()
        started_now = False
        waiting = bool((container.attrs.get("State") or {}).get("Restarting"))
        if start_if_waiting and waiting and _protection_reason(container) is None:
            # no process runs while it waits, and the engine answers `start` with "already
            # running" (a waiting container counts as running): only a restart ends the wait
            container.restart(timeout=1)
            container.reload()
            started_now = True
        after: dict[str, Any] = container.attrs.get("HostConfig") or {}
        read_memory = int(after.get("Memory") or 0)
        read_swap = int(after.get("MemorySwap") or 0)
        return MemoryLimitChange(
            container=container.name,
            id=container.id or "",
            old_memory_bytes=old_memory or None,
            new_memory_bytes=read_memory,
            old_memory_swap_bytes=old_swap or None,
            new_memory_swap_bytes=read_swap,
            memory_usage_bytes=usage,
            ok=read_memory == new_memory and read_swap == new_swap,
            started_now=started_now,
            note=_memory_note((container.attrs.get("Config") or {}).get("Labels") or {}),
        )

    return await host.run(run, what=f"update memory limit of container {name}")
