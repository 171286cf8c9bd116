"""Unhealthy detector: a real failing HEALTHCHECK with its probe output, then healthy again; and
the healthy event resolving a signal raised for an earlier container of the same name."""

from __future__ import annotations

import anyio
import docker
import pytest

from mcp_server.detectors import DetectorEngine, ManualClock
from mcp_server.detectors.base import fingerprint
from mcp_server.detectors.state import target_from_labels
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0, fast_settings, logic_engine, make_event, make_signal, start, unique, wait_resolved

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_unhealthy_with_probe_output_then_healthy_again(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    name = unique("health")
    healthcheck = {
        "test": ["CMD-SHELL", "test -f /tmp/ok || { echo probe: /tmp/ok is missing; exit 1; }"],
        "interval": 500_000_000,
        "timeout": 2_000_000_000,
        "retries": 1,
    }
    async with DetectorEngine(host, fast_settings(enabled=["unhealthy"])) as engine:
        await engine.wait_connected()
        container = await start(docker_client, name, ["sleep", "3600"], healthcheck=healthcheck)
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "unhealthy" and s.target.container_name == name, 30
        )
        assert sig.runbook == "unhealthy"
        assert "/tmp/ok is missing" in sig.summary
        assert sig.evidence["probes"] and "probe: /tmp/ok is missing" in sig.evidence["probes"][-1]["output"]
        assert sig.evidence["probes"][-1]["exit_code"] == 1

        await anyio.to_thread.run_sync(lambda: container.exec_run(["touch", "/tmp/ok"]))
        done = await wait_resolved(engine, sig.id, 30)
        assert done.status == "resolved" and done.resolution and "healthy" in done.resolution


async def test_unhealthy_clears_on_healthy_event(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(offline_host, clock, enabled=["unhealthy"])
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}
    # raised for an earlier container of the same name: the fingerprint ignores the id
    target = target_from_labels("offline", "shop-web-1", "earlier-id", labels)
    raised = make_signal(clock, target).model_copy(
        update={"id": fingerprint("unhealthy", target), "kind": "unhealthy"}
    )
    engine.book.upsert(raised)
    await engine.handle_event(make_event("health_status", T0, health="starting"))
    assert [s.id for s in engine.active_signals()] == [raised.id]
    await engine.handle_event(make_event("health_status", T0, health="healthy"))
    assert engine.active_signals() == []
    assert engine.resolved_signals()[0].resolution == "container shop-web-1 is healthy again"
