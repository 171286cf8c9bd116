"""Container CPU and memory from cgroup files, the stats-stream fallback, and the pooled client,
all on the real engine."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from docker.transport.unixconn import UnixHTTPConnection

from mcp_server.detectors import DetectorSettings, ManualClock
from mcp_server.detectors.samplers import StatsSampler
from mcp_server.detectors.state import ContainerDirectory
from mcp_server.docker_ops.cgroups import CgroupReader, cgroup_cpu_percent
from mcp_server.docker_ops.containers import container_details, container_logs
from mcp_server.docker_ops.host import POOL_SIZE, DockerHost
from mcp_server.docker_ops.stats import memory_without_cache

from .dockerops_helpers import LABELS, run_container, unique, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]
MiB = 1024 * 1024
# dd fills a 24 MiB buffer and blocks writing it into a pipe nobody reads: anonymous memory, held
HOLD_24M = ["sh", "-c", "dd if=/dev/zero bs=24M count=1 | sleep 3600"]


def _holding(docker_client: docker.DockerClient) -> Any:
    box = run_container(docker_client, unique("cgmem"), HOLD_24M, mem_limit="64m", memswap_limit="64m")
    # wait until dd has its buffer: usage climbs past 24 MiB
    reader = CgroupReader()
    wait_for(
        lambda: (s := reader.read(box.id)) is not None and s.memory_usage_bytes > 24 * MiB,
        timeout=20,
        what="the container to hold 24 MiB",
    )
    return box


def test_memory_from_cgroup_files_matches_the_stats_api(docker_client: docker.DockerClient) -> None:
    box = _holding(docker_client)
    reader = CgroupReader()
    assert reader.available(box.id)
    api = docker_client.api.stats(box.id, stream=False)
    reading = reader.read(box.id)
    assert reading is not None
    used_files, _, _ = memory_without_cache(reading.memory_stats(reader.host_memory))
    used_api, _, _ = memory_without_cache(api["memory_stats"])
    assert used_files >= 24 * MiB
    assert abs(used_files - used_api) < 2 * MiB  # same files, read a moment apart
    assert reading.memory_limit_bytes == api["memory_stats"]["limit"] == 64 * MiB


def test_cpu_from_cgroup_files_and_the_quota(docker_client: docker.DockerClient) -> None:
    box = run_container(
        docker_client, unique("cgcpu"), ["sh", "-c", "while :; do :; done"], nano_cpus=500_000_000
    )
    reader = CgroupReader()
    wait_for(lambda: reader.read(box.id) is not None, timeout=10, what="cgroup files")
    first = reader.read(box.id)
    api = docker_client.api.stats(box.id, stream=False, one_shot=True)
    time.sleep(1.0)
    second = reader.read(box.id)
    assert first is not None and second is not None
    # the engine reads the same counter: its value falls between our two readings
    assert first.cpu_usage_ns <= api["cpu_stats"]["cpu_usage"]["total_usage"] <= second.cpu_usage_ns
    assert second.cpu_quota_cpus == pytest.approx(0.5)
    percent = cgroup_cpu_percent(first, second)
    # busy, and held at half a core by the quota (less when the machine is loaded)
    assert percent is not None and 5.0 < percent < 60.0
    throttled = api["cpu_stats"]["throttling_data"]["throttled_periods"]
    assert first.throttled_periods is not None and second.throttled_periods is not None
    assert first.throttled_periods <= throttled <= second.throttled_periods


def test_an_empty_cgroup_root_hides_every_container(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    box = run_container(docker_client, unique("cghide"), ["sleep", "3600"])
    assert CgroupReader(tmp_path).read(box.id) is None
    assert CgroupReader().read(box.id) is not None


async def _sampler(host: DockerHost, cgroups: CgroupReader) -> StatsSampler:
    settings = DetectorSettings(include_labels=LABELS, stats_interval_s=0.2)
    return StatsSampler(
        host, ContainerDirectory(host, settings, list_max_age_s=0), settings, ManualClock(), cgroups=cgroups
    )


async def test_sampler_reads_cgroup_files_when_visible(docker_client: docker.DockerClient) -> None:
    box = await anyio.to_thread.run_sync(_holding, docker_client)
    async with DockerHost() as host:
        sampler = await _sampler(host, CgroupReader())
        await sampler.refresh(max_age_s=0)
        await anyio.sleep(0.3)
        await sampler.refresh(max_age_s=0)
        assert sampler.last_round_sources["engine"] == 0 and sampler.last_round_sources["cgroup"] >= 1
        samples = sampler.history(box.id)
        assert len(samples) == 2 and samples[0].cpu_percent is None and samples[1].cpu_percent is not None
        assert samples[-1].memory_limit_set and samples[-1].memory_limit_bytes == 64 * MiB
        assert samples[-1].memory_used_bytes >= 24 * MiB
        assert host._stats_streams is None  # no stream was opened: nothing needed one


async def test_sampler_falls_back_to_stats_streams_when_files_are_hidden(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    box = await anyio.to_thread.run_sync(_holding, docker_client)
    async with DockerHost() as host:
        sampler = await _sampler(host, CgroupReader(tmp_path))
        with anyio.fail_after(30):
            while len(sampler.history(box.id)) < 2:
                await sampler.refresh(max_age_s=0)
                await anyio.sleep(1.0)  # the stream delivers a sample each second
        assert sampler.last_round_sources["cgroup"] == 0 and sampler.last_round_sources["engine"] >= 1
        streams = host.stats_streams()
        assert streams.supported and streams.followed == sampler.last_round_sources["engine"]
        samples = sampler.history(box.id)
        assert samples[1].cpu_percent is not None
        assert samples[-1].memory_used_bytes >= 24 * MiB and samples[-1].memory_limit_bytes == 64 * MiB
        assert samples[-1].memory_limit_set
    assert host._stats_streams is None  # closed with the host


async def test_the_client_reuses_pooled_connections(
    docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = run_container(docker_client, unique("pool"), ["sh", "-c", "echo one; echo two; sleep 3600"])
    connects: list[int] = []
    original = UnixHTTPConnection.connect

    def counting_connect(self: UnixHTTPConnection) -> None:
        connects.append(1)
        original(self)

    monkeypatch.setattr(UnixHTTPConnection, "connect", counting_connect)
    limiter = anyio.CapacityLimiter(8)
    async with DockerHost() as host:

        async def calls() -> None:
            async with limiter:
                await container_details(host, box.id)
                logs = await container_logs(host, box.id, tail=10)
                assert [line.text for line in logs.lines] == ["one", "two"]
                await host.run(
                    lambda c: c.api.containers(filters={"label": [f"{k}={v}" for k, v in LABELS.items()]}),
                    what="list",
                )

        async with anyio.create_task_group() as tg:
            for _ in range(40):
                tg.start_soon(calls)
    # 120 requests, at most 8 at a time: each connection is opened once and reused
    # (+1: the client asks the engine for its API version when it is made)
    assert 0 < len(connects) <= 8 + 1 < POOL_SIZE
