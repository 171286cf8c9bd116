"""Disk-pressure detector: a real tmpfs volume filling up (with the "full in ~N" projection), and
the fill-rate arithmetic."""

from __future__ import annotations

from datetime import timedelta

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, Severity
from mcp_server.detectors.checks.disk_pressure import fill_rate
from mcp_server.docker_ops.host import DockerHost

from .helpers import LABELS, T0, MiB, fast_settings, start, unique, wait_resolved

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_tmpfs_volume_filling_up_with_projection(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    volume = unique("vol")
    await anyio.to_thread.run_sync(
        lambda: docker_client.volumes.create(
            volume,
            driver="local",
            driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=8m"},
            labels=LABELS,
        )
    )
    box = await start(docker_client, unique("filler"), ["sleep", "3600"], volumes={volume: {"bind": "/data"}})
    settings = fast_settings(
        enabled=["disk_pressure"],
        disk_interval_s=0.2,
        disk_warning_percent=60.0,
        disk_critical_percent=95.0,
        disk_min_samples=3,
    )
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        for step in range(3):  # 2, 4, 6 MiB of 8: the last step crosses 60 %
            await anyio.to_thread.run_sync(
                lambda i=step: box.exec_run(["dd", "if=/dev/zero", f"of=/data/f{i}", "bs=1M", "count=2"])
            )
            await anyio.sleep(0.7)
        sig = await engine.wait_for_signal(
            lambda s: (
                s.kind == "disk_pressure"
                and s.target.kind == "volume"
                and s.target.name == volume
                and s.evidence.get("projected_full_in_s") is not None
            ),
            30,
        )
        assert sig.runbook == "disk-filling"
        assert sig.evidence["total_bytes"] == 8 * MiB
        assert sig.evidence["used_bytes"] == 6 * MiB and sig.evidence["used_percent"] == 75.0
        assert sig.evidence["fill_rate_bytes_per_s"] > 0
        # 2 MiB left at ~2 MiB per 0.7 s: full within seconds, so the projection makes it critical
        assert sig.severity == Severity.critical
        assert "full in ~" in sig.summary and "volume" in sig.summary and "75% full" in sig.summary

        # freeing the space clears the signal
        await anyio.to_thread.run_sync(lambda: box.exec_run(["sh", "-c", "rm -f /data/f*"]))
        done = await wait_resolved(engine, sig.id, 30)
        assert done.status == "resolved"


def test_fill_rate_projection() -> None:
    samples = [(T0 + timedelta(seconds=i * 60), 1000 + i * 600) for i in range(5)]
    assert fill_rate(samples) == pytest.approx(10.0)  # 600 bytes per minute
    assert fill_rate([(T0, 5), (T0, 9)]) is None
    assert fill_rate(samples[:1]) is None
