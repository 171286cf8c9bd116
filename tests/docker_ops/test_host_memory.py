"""host_memory on the real engine: total from `docker info`, available from /proc/meminfo only when
that file describes the engine's machine, and the running containers' limits added up."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from mcp_server.docker_ops.host import DockerHost
from mcp_server.docker_ops.host_memory import host_memory, read_meminfo, same_machine

from .dockerops_helpers import run_container, unique
from .tcp_forward import tcp_to_docker_socket

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
MIB = 2**20


async def test_a_local_engine_reports_the_hosts_available_memory(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    limited = run_container(docker_client, unique("headroom"), ["sleep", "600"], mem_limit="64m")
    try:
        memory = await host_memory(host)
    finally:
        limited.remove(force=True)
    total = int(docker_client.info()["MemTotal"])
    assert memory.total_bytes == total and memory.unknown_reason is None
    assert memory.available_bytes is not None and 0 < memory.available_bytes <= total
    # the 64 MiB container was running during the call, whatever else runs on the shared engine
    assert memory.limits_granted_bytes is not None and memory.limits_granted_bytes >= 64 * MIB
    assert 1 <= memory.limited_containers <= memory.running_containers


async def test_without_the_granted_sum_nothing_is_inspected(host: DockerHost) -> None:
    memory = await host_memory(host, with_granted=False)
    assert memory.available_bytes is not None and memory.limits_granted_bytes is None
    assert memory.running_containers == 0


def _meminfo(tmp_path: Path, total_kb: int, available_kb: int | None) -> Path:
    lines = [f"MemTotal:       {total_kb} kB", "MemFree:         1000 kB"]
    if available_kb is not None:
        lines.append(f"MemAvailable:   {available_kb} kB")
    path = tmp_path / "meminfo"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_another_machines_meminfo_is_not_believed(host: DockerHost, tmp_path: Path) -> None:
    """What a server sees in a VM-backed engine's neighbour or under lxcfs: a MemTotal that is not
    the engine's. Its MemAvailable would be a guess about another machine: unknown instead."""
    total_kb = int((await host.info())["MemTotal"]) // 1024
    other = await host_memory(host, with_granted=False, meminfo=_meminfo(tmp_path, total_kb // 2, 1000))
    assert other.available_bytes is None and other.total_bytes == total_kb * 1024
    assert other.unknown_reason is not None and "is not the engine's" in other.unknown_reason
    same = await host_memory(host, with_granted=False, meminfo=_meminfo(tmp_path, total_kb, 123_456))
    assert same.available_bytes == 123_456 * 1024
    old_kernel = await host_memory(host, with_granted=False, meminfo=_meminfo(tmp_path, total_kb, None))
    assert (
        old_kernel.available_bytes is None
        and old_kernel.unknown_reason == "the kernel reports no MemAvailable"
    )
    missing = await host_memory(host, with_granted=False, meminfo=tmp_path / "absent")
    assert missing.available_bytes is None and "is not readable here" in (missing.unknown_reason or "")


async def test_a_remote_engine_has_unknown_availability(docker_client: docker.DockerClient) -> None:
    with tcp_to_docker_socket() as url:
        async with DockerHost(url, timeout=30) as remote:
            memory = await host_memory(remote)
    assert memory.total_bytes == int(docker_client.info()["MemTotal"])
    assert memory.available_bytes is None and memory.unknown_reason == "remote engine"
    assert memory.limits_granted_bytes is not None  # the engine still tells the limits it granted


def test_meminfo_parsing_and_the_same_machine_rule(tmp_path: Path) -> None:
    assert read_meminfo(_meminfo(tmp_path, 2048, 1024)) == {
        "MemTotal": 2048 * 1024,
        "MemFree": 1000 * 1024,
        "MemAvailable": 1024 * 1024,
    }
    assert read_meminfo(tmp_path / "absent") == {}
    assert same_machine(1000, 1020) and same_machine(1020, 1000)
    assert not same_machine(1000, 1100) and not same_machine(0, 0)
