"""Memory-pressure detector on the real engine: a process holding 28 MiB of a 32 MiB limit."""

from __future__ import annotations

import docker
import pytest

from mcp_server.detectors import DetectorEngine, Severity
from mcp_server.docker_ops.host import DockerHost

from .helpers import MiB, fast_settings, start, unique

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_memory_pressure_holding_28mb_of_32mb(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    holder, idle = unique("mem"), unique("memidle")
    settings = fast_settings(
        enabled=["memory_pressure"],
        memory_warning_percent=80.0,
        memory_critical_percent=99.0,
        memory_duration_s=2.0,
    )
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        # dd fills a 28 MiB buffer, then blocks writing it into a pipe nobody reads: it holds it
        # (anonymous memory, counted by docker stats; page cache would not be)
        await start(
            docker_client,
            holder,
            ["sh", "-c", "dd if=/dev/zero bs=28M count=1 | sleep 3600"],
            mem_limit="32m",
            memswap_limit="32m",
        )
        await start(docker_client, idle, ["sleep", "3600"], mem_limit="32m", memswap_limit="32m")
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "memory_pressure" and s.target.container_name == holder, 30
        )
        assert sig.runbook == "memory-pressure" and sig.severity == Severity.warning
        assert sig.evidence["memory_limit_bytes"] == 32 * MiB
        assert sig.evidence["memory_used_bytes"] >= 28 * MiB
        assert 80.0 <= sig.evidence["memory_percent"] < 100.0
        assert "of its memory limit" in sig.summary
        assert not [s for s in engine.active_signals() if s.target.container_name == idle]
