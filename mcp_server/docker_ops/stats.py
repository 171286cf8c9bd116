"""One-shot resource numbers of a container, computed exactly as `docker stats` computes them.

- memory used = usage minus inactive page cache (cgroup v1: `total_inactive_file`, else `cache`;
  cgroup v2: `inactive_file`), because the kernel can drop that cache at any time;
- CPU % = (container CPU time delta / host CPU time delta) × online CPUs × 100, so one busy core
  on a 4-core host reads 100 %, not 25 %;
- network: rx/tx bytes summed over interfaces; block I/O: read/write bytes summed over devices.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from .host import DockerHost, get_container
from .timeutil import parse_docker_time

if TYPE_CHECKING:
    import docker  # the client comes from `DockerHost.run`; importing this module must not load it


class ContainerStats(BaseModel):
    """Resource use of one container at `read_at` (sampled over about one second)."""

    container: str
    id: str
    running: bool
    read_at: datetime | None
    cpu_percent: float = Field(description="like docker stats: 100 = one full CPU core")
    online_cpus: int
    memory_usage_bytes: int = Field(description="usage minus inactive page cache (like docker stats)")
    memory_cache_bytes: int = Field(description="the page cache that was subtracted")
    memory_limit_bytes: int = Field(description="the container's limit, or host memory without one")
    memory_percent: float
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int | None
    cgroup_version: Literal["v1", "v2", "unknown"]


def memory_without_cache(memory_stats: dict[str, Any]) -> tuple[int, int, Literal["v1", "v2", "unknown"]]:
    """(used bytes, subtracted cache bytes, cgroup version) from the engine's `memory_stats`."""
    usage = int(memory_stats.get("usage") or 0)
    detail: dict[str, Any] = memory_stats.get("stats") or {}
    cache: int
    version: Literal["v1", "v2", "unknown"]
    if "total_inactive_file" in detail or "cache" in detail:  # only cgroup v1 reports these keys
        version = "v1"
        cache = int(detail.get("total_inactive_file", detail.get("cache", 0)) or 0)
    elif "inactive_file" in detail:
        version = "v2"
        cache = int(detail["inactive_file"] or 0)
    else:
        version, cache = "unknown", 0
    if cache >= usage:  # the CLI keeps raw usage rather than show zero or a negative number
        return usage, 0, version
    return usage - cache, cache, version


def cpu_percent(stats: dict[str, Any]) -> tuple[float, int]:
    """(CPU %, online CPUs) from one stats sample that carries `precpu_stats`."""
    cpu = stats.get("cpu_stats") or {}
    precpu = stats.get("precpu_stats") or {}
    usage = cpu.get("cpu_usage") or {}
    cpu_delta = float(usage.get("total_usage") or 0) - float(
        (precpu.get("cpu_usage") or {}).get("total_usage") or 0
    )
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(precpu.get("system_cpu_usage") or 0)
    online = int(cpu.get("online_cpus") or 0) or len(usage.get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0, online
    return 0.0, online


def block_io(stats: dict[str, Any]) -> tuple[int, int]:
    """(read bytes, write bytes) summed over devices (cgroup v1 writes `Read`, v2 `read`)."""
    read = write = 0
    for entry in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            write += int(entry.get("value") or 0)
    return read, write


def compute_stats(raw: dict[str, Any], *, name: str, container_id: str, running: bool) -> ContainerStats:
    """Turn one raw `GET /containers/{id}/stats?stream=false` answer into ContainerStats."""
    memory_stats = raw.get("memory_stats") or {}
    used, cache, version = memory_without_cache(memory_stats)
    limit = int(memory_stats.get("limit") or 0)
    cpu, online = cpu_percent(raw)
    networks = (raw.get("networks") or {}).values()
    read, write = block_io(raw)
    return ContainerStats(
        container=name,
        id=container_id,
        running=running,
        read_at=parse_docker_time(raw.get("read")),
        cpu_percent=round(cpu, 2),
        online_cpus=online,
        memory_usage_bytes=used,
        memory_cache_bytes=cache,
        memory_limit_bytes=limit,
        memory_percent=round(used / limit * 100.0, 2) if limit else 0.0,
        network_rx_bytes=sum(int(n.get("rx_bytes") or 0) for n in networks),
        network_tx_bytes=sum(int(n.get("tx_bytes") or 0) for n in networks),
        block_read_bytes=read,
        block_write_bytes=write,
        pids=(raw.get("pids_stats") or {}).get("current"),
        cgroup_version=version,
    )


async def container_stats(host: DockerHost, name: str) -> ContainerStats:
    """One-shot stats of a running container (takes about a second: the engine samples twice so
    CPU % has a baseline). A stopped container returns zeros with `running=False`."""

    def sample(client: docker.DockerClient) -> ContainerStats:
        container = get_container(client, name, host.base_url)
        running = (container.attrs.get("State") or {}).get("Running", False)
        if not running:
            raw: dict[str, Any] = {}
        else:
            raw = client.api.stats(container.id, stream=False)
        return compute_stats(raw, name=container.name, container_id=container.id, running=bool(running))

    return await host.run(sample, what=f"read stats of container {name}")
