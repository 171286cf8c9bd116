"""How much memory the engine's machine has, and how much of it is free: the headroom a memory
raise must leave (see `memory_headroom_reserve_bytes` in safety/settings.py).

- `total_bytes`: the engine's `MemTotal` from `docker info` (cached per host: it does not change).
- `available_bytes`: the kernel's `MemAvailable` (free memory plus the cache it can drop), read
  from `/proc/meminfo`, but only when that file describes the engine's machine: the engine is
  reached by a unix socket AND this machine's `MemTotal` equals the engine's within a few percent.
  That holds on the host itself and in a container without lxcfs (its /proc/meminfo is the
  host's). It fails, rightly, for a remote engine, for Docker Desktop (the engine runs in a VM)
  and under lxcfs (the file shows the container's own limit). Then it is None: unknown, and
  `unknown_reason` says why. A guess would be worse than "unknown": the policy refuses on it.
- `limits_granted_bytes`: the sum of the memory limits of the running containers. Evidence only:
  Docker limits are overcommitted routinely (a limit is a ceiling, not a reservation), so nothing
  is refused on it; it is reported so a human sees how much the host has promised.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
import docker
import docker.errors

from .host import DockerHost

MEMINFO = Path("/proc/meminfo")
SAME_MACHINE_TOLERANCE = 0.03
"""/proc/meminfo's MemTotal and the engine's must agree within this fraction to be one machine
(they are normally equal: both come from the same kernel)."""
MAX_INSPECTED = 500
"""Above this many running containers the granted limits are not summed (one inspect each)."""

_TOTALS: weakref.WeakKeyDictionary[DockerHost, int] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class HostMemory:
    """The memory of the machine an engine runs on. None = not known (see `unknown_reason`)."""

    total_bytes: int | None
    available_bytes: int | None
    unknown_reason: str | None  # why available_bytes is None, e.g. "remote engine"
    limits_granted_bytes: int | None = None  # sum of running containers' limits; None = not summed
    limited_containers: int = 0
    running_containers: int = 0


def read_meminfo(path: Path = MEMINFO) -> dict[str, int]:
    """`MemTotal`, `MemAvailable`, … of /proc/meminfo in bytes (blocking). Empty when unreadable."""
    found: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return found
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            found[key.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return found


def same_machine(local_total: int, engine_total: int) -> bool:
    """True when two MemTotal figures describe one machine."""
    if local_total <= 0 or engine_total <= 0:
        return False
    return abs(local_total - engine_total) <= SAME_MACHINE_TOLERANCE * engine_total


async def engine_total(docker_host: DockerHost) -> int | None:
    """The engine's MemTotal (bytes), asked once per host; None when the engine does not say."""
    cached = _TOTALS.get(docker_host)
    if cached is not None:
        return cached
    info = await docker_host.info()
    total = int(info.get("MemTotal") or 0)
    if total <= 0:
        return None
    _TOTALS[docker_host] = total
    return total


def _gib(value: int) -> str:
    return f"{value / 1024**3:.2f} GiB"


def _available(docker_host: DockerHost, total: int | None, meminfo: Path) -> tuple[int | None, str | None]:
    if not docker_host.is_local_socket:
        return None, "remote engine"
    if total is None:
        return None, "the engine does not report its MemTotal"
    local = read_meminfo(meminfo)
    if "MemTotal" not in local:
        return None, f"{meminfo} is not readable here"
    if not same_machine(local["MemTotal"], total):
        return None, (
            f"this machine's MemTotal ({_gib(local['MemTotal'])}) is not the engine's ({_gib(total)}): "
            "the engine runs in a VM or elsewhere, or /proc/meminfo is virtualised (lxcfs)"
        )
    if "MemAvailable" not in local:
        return None, "the kernel reports no MemAvailable"
    return local["MemAvailable"], None


def _granted(client: docker.DockerClient) -> tuple[int | None, int, int]:
    """(sum of limits, limited containers, running containers) of the running containers."""
    running = client.api.containers(filters={"status": "running"})
    if len(running) > MAX_INSPECTED:
        return None, 0, len(running)
    total = limited = 0
    for entry in running:
        try:
            attrs = client.api.inspect_container(entry["Id"])
        except docker.errors.NotFound:
            continue  # stopped and removed between the list and the inspect
        memory = int((attrs.get("HostConfig") or {}).get("Memory") or 0)
        if memory > 0:
            total += memory
            limited += 1
    return total, limited, len(running)


async def host_memory(
    docker_host: DockerHost, *, with_granted: bool = True, meminfo: Path = MEMINFO
) -> HostMemory:
    """Total and available memory of the engine's machine (see the module docstring for when
    `available_bytes` is known), and with `with_granted` the sum of the running containers'
    limits. `meminfo` is a parameter so a test can show the code another machine's file."""
    total = await engine_total(docker_host)
    available, reason = await anyio.to_thread.run_sync(_available, docker_host, total, meminfo)
    if not with_granted:
        return HostMemory(total, available, reason)
    granted, limited, running = await docker_host.run(_granted, what="sum the running containers' limits")
    return HostMemory(total, available, reason, granted, limited, running)
