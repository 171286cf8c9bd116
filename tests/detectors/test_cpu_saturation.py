"""CPU-saturation detector on the real engine: a busy loop under a 0.5 CPU limit."""

from __future__ import annotations

import docker
import pytest

from mcp_server.detectors import DetectorEngine
from mcp_server.docker_ops.host import DockerHost

from .helpers import fast_settings, start, unique

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_cpu_saturation_against_the_cpu_limit(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    burner, idle = unique("burn"), unique("idle")
    settings = fast_settings(enabled=["cpu_saturation"], cpu_percent=80.0, cpu_duration_s=2.0)
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        await start(docker_client, burner, ["sh", "-c", "while :; do :; done"], nano_cpus=500_000_000)
        await start(docker_client, idle, ["sleep", "3600"], nano_cpus=500_000_000)
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "cpu_saturation" and s.target.container_name == burner, 30
        )
        assert sig.runbook == "cpu-saturation"
        assert sig.evidence["cpu_limit_cpus"] == 0.5
        assert sig.evidence["cpu_share_percent"] >= 80.0
        assert "CPU limit (0.5 CPUs)" in sig.summary
        assert sig.evidence["held_for_s"] >= 2.0
        assert not [s for s in engine.active_signals() if s.target.container_name == idle]
