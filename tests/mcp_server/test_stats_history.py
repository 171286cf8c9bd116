"""stats_history on the real engine: the watcher's samples of a compose-labelled container with a
memory limit, in order and against that limit; one fresh sample and a note when the watcher keeps
no history; the known names when the app does not exist; and the downsampling that keeps spikes.

Everything created here is named `ig-stats-hist-<run>-*`, labelled `ig.test=stats-history`, and
removed at the end of the module.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import docker
import pytest
from mcp import Client

from mcp_server.detectors.settings import DetectorSettings
from mcp_server.server import build_server
from mcp_server.server.tools.stats_history import MAX_POINTS, StatsPoint, downsample
from mcp_server.settings import Settings

pytestmark = pytest.mark.docker

IMAGE = "ig/busybox:test"
RUN_ID = secrets.token_hex(4)
PROJECT = f"ig-stats-hist-{RUN_ID}"
LIMIT = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def container() -> Iterator[Any]:
    """A running container of compose project PROJECT, service `api`, limited to 64 MiB."""
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    made = client.containers.run(
        IMAGE,
        ["sleep", "3600"],
        name=f"{PROJECT}-api-1",
        labels={
            "ig.test": "stats-history",
            "com.docker.compose.project": PROJECT,
            "com.docker.compose.service": "api",
        },
        mem_limit="64m",
        init=True,
        detach=True,
        network_mode="none",
    )
    # and a one-shot job of the same project, exited: it has no samples to show
    job = client.containers.create(
        IMAGE,
        ["true"],
        name=f"{PROJECT}-job-1",
        labels={
            "ig.test": "stats-history",
            "com.docker.compose.project": PROJECT,
            "com.docker.compose.service": "job",
        },
        network_mode="none",
    )
    try:
        yield made
    finally:
        job.remove(force=True)
        made.remove(force=True)
        client.close()


def watching(make_settings: Callable[..., Settings]) -> Settings:
    # one detector that samples stats, every second: a history of a few samples within seconds
    return make_settings(
        detectors=DetectorSettings(
            stats_interval_s=1.0, enabled=["memory_pressure"], include_labels={"ig.test": "stats-history"}
        )
    )


@pytest.mark.anyio
async def test_the_watchers_samples_in_order_against_the_limit(
    container: Any, make_settings: Callable[..., Settings]
) -> None:
    server = build_server(watching(make_settings), run_detectors=True)
    async with Client(server, raise_exceptions=True) as client:
        deadline = time.monotonic() + 120
        while True:
            result = await client.call_tool("stats_history", {"app_name": PROJECT, "service": "api"})
            assert not result.is_error, result.content
            body = result.structured_content
            assert body is not None
            (row,) = body["containers"]
            if len(row["samples"]) >= 3 and not body["notes"]:
                break  # the watcher has sampled it three times
            if time.monotonic() > deadline:
                pytest.fail(f"no history of 3 samples after 120 s: {body}")
            await anyio.sleep(1)
        assert row["container"] == f"{PROJECT}-api-1" and row["service"] == "api"
        assert row["memory_limit_bytes"] == LIMIT and row["memory_limit_set"] is True
        assert row["cpu_limit_cpus"] is None
        stamps = [datetime.fromisoformat(s["at"]) for s in row["samples"]]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in stamps)
        assert all(0 < s["memory_used_bytes"] < LIMIT for s in row["samples"])
        # CPU is known from the second sample of the container on
        assert all(s["cpu_percent"] is not None and s["cpu_percent"] >= 0 for s in row["samples"][1:])

        unknown = await client.call_tool("stats_history", {"app_name": f"{PROJECT}-nope"})
        text = unknown.content[0].text  # type: ignore[union-attr]
        assert (
            unknown.is_error and f"no compose project, stack or swarm service named '{PROJECT}-nope'" in text
        )
        assert PROJECT in text  # the names that do exist


@pytest.mark.anyio
async def test_without_a_watcher_one_fresh_sample_and_a_note(
    container: Any, make_settings: Callable[..., Settings]
) -> None:
    server = build_server(make_settings(), run_detectors=False)
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool("stats_history", {"app_name": PROJECT, "minutes": 10})
    body = result.structured_content
    assert body is not None and not result.is_error
    assert body["notes"] == [
        f"not running, no samples: {PROJECT}-job-1",
        "the watcher does not run in this server process, so it kept no history here; "
        "one fresh sample per container instead",
    ]
    row, job = sorted(body["containers"], key=lambda r: r["service"])
    assert job["service"] == "job" and job["samples"] == [] and job["memory_limit_set"] is False
    assert row["memory_limit_bytes"] == LIMIT and row["memory_limit_set"] is True
    (sample,) = row["samples"]
    assert 0 < sample["memory_used_bytes"] < LIMIT and sample["cpu_percent"] is not None
    assert abs(datetime.fromisoformat(sample["at"]) - datetime.now(UTC)) < timedelta(minutes=5)


def test_downsampling_keeps_the_bound_the_order_and_the_spikes() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        StatsPoint(at=start + timedelta(seconds=15 * i), memory_used_bytes=1000 + i, cpu_percent=5.0)
        for i in range(1000)
    ]
    points[500] = points[500].model_copy(update={"memory_used_bytes": 10**9})  # the spike before an OOM
    points[777] = points[777].model_copy(update={"cpu_percent": 99.0})  # a CPU burst in another sample
    points[0] = points[0].model_copy(update={"cpu_percent": None})  # a first sample: CPU unknown
    kept = downsample(points, MAX_POINTS)
    assert len(kept) == MAX_POINTS
    assert [p.at for p in kept] == sorted(p.at for p in kept)
    assert kept[0].at >= points[0].at and kept[-1].at == points[-1].at
    assert max(p.memory_used_bytes for p in kept) == 10**9
    assert max(p.cpu_percent or 0 for p in kept) == 99.0
    assert kept[0].cpu_percent == 5.0  # the bucket's other samples knew the CPU
    # few points are returned as they are
    assert downsample(points[:10], MAX_POINTS) == points[:10]
    assert len(downsample(points, 7)) == 7
