"""Hung detector on the real engine: a worker that went silent and idle is flagged; a busy one
and a chatty one are not."""

from __future__ import annotations

import docker
import pytest

from mcp_server.detectors import DetectorEngine
from mcp_server.detectors.log_files import HUNG_LABEL
from mcp_server.docker_ops.host import DockerHost

from .helpers import fast_settings, start, unique

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_hung_worker_is_flagged_but_busy_and_chatty_ones_are_not(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    chat = 'i=0; while [ $i -lt 15 ]; do echo "job $i done"; i=$((i+1)); sleep 0.2; done'
    settings = fast_settings(
        enabled=["hung"],
        hung_interval_s=0.5,
        hung_min_silence_s=2.0,
        hung_norm_factor=3.0,
        hung_min_gaps=5,
        hung_cpu_idle_percent=5.0,
        hung_scope="all",  # these containers are not named like workers
    )
    stuck, busy, chatty = unique("stuck"), unique("busy"), unique("chatty")
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        # the stuck worker logs steadily, then waits on a "lock" forever without using CPU
        await start(docker_client, stuck, ["sh", "-c", f"{chat}; echo waiting for lock; sleep 3600"])
        # the busy one goes silent too, but keeps computing: not hung
        busy_box = await start(
            docker_client, busy, ["sh", "-c", f"{chat}; while :; do :; done"], nano_cpus=300_000_000
        )
        await start(docker_client, chatty, ["sh", "-c", "while :; do echo alive; sleep 0.2; done"])

        sig = await engine.wait_for_signal(
            lambda s: s.kind == "hung" and s.target.container_name == stuck, 60
        )
        assert sig.runbook == "hung-worker" and "may be hung" in sig.summary
        assert sig.evidence["usual_gap_s"] < 1.0  # learned from the 0.2 s cadence
        assert sig.evidence["silence_s"] >= 2.0
        assert sig.evidence["cpu_avg_percent"] <= 5.0 and sig.evidence["cpu_samples"] >= 2
        assert sig.evidence["last_log_lines"][-1] == "waiting for lock"

        # the busy container has been silent as long: judge it twice more, then check why it is clean
        await engine.poll(["hung"])
        await engine.poll(["hung"])
        names = {s.target.container_name for s in engine.active_signals() if s.kind == "hung"}
        assert busy not in names and chatty not in names
        busy_cpu = [
            s.cpu_percent for s in engine.context.stats.history(busy_box.id) if s.cpu_percent is not None
        ]
        assert len(busy_cpu) >= 2 and max(busy_cpu) > 5.0  # it was judged, and judged busy


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_opted_in_silent_worker_is_flagged_and_a_web_container_is_not_read(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    # default scope (`workers`): opted-in and worker-looking containers only
    settings = fast_settings(enabled=["hung"], hung_interval_s=0.5, hung_cpu_idle_percent=5.0)
    opted, web, worker = unique("opted"), unique("web"), unique("queue-worker")
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        opted_box = await start(
            docker_client, opted, ["sh", "-c", "echo started; sleep 3600"], labels={HUNG_LABEL: "3s"}
        )
        web_box = await start(docker_client, web, ["sh", "-c", "while :; do echo GET /; sleep 0.2; done"])
        worker_box = await start(docker_client, worker, ["sh", "-c", "echo ready; sleep 3600"])

        sig = await engine.wait_for_signal(
            lambda s: s.kind == "hung" and s.target.container_name == opted, 60
        )
        # the label's age is the threshold: no learned norm was needed
        assert sig.evidence["threshold_s"] == 3.0 and sig.evidence["usual_gap_s"] is None
        assert sig.evidence["checked_because"] == f"{HUNG_LABEL}=3s"
        assert sig.evidence["last_log_lines"] == ["started"]
        assert sig.evidence["silence_s"] >= 3.0 and sig.evidence["cpu_samples"] >= 2
        assert f"from {HUNG_LABEL}" in sig.summary

        await engine.poll(["hung"])
        observed = engine.context.logs.observed_ids()
        assert opted_box.id in observed and worker_box.id in observed  # opted in / looks like a worker
        assert web_box.id not in observed  # its log was never read
        # the opted-in container's log was read from the json-file on disk, not through the engine
        log_path = await engine.context.logs.log_path(opted_box.id)
        assert log_path is not None and log_path.endswith("-json.log")
        # the worker logged once and has no learned norm: checked, but not flagged
        names = {s.target.container_name for s in engine.active_signals() if s.kind == "hung"}
        assert worker not in names and web not in names
