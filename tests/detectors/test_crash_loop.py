"""Crash-loop detector: a real container that keeps crashing under `restart: always`, the exit
window and requested stops (event logic). A compose service crash-looping is in test_restart_storm.py."""

from __future__ import annotations

from datetime import timedelta

import docker
import pytest

from mcp_server.detectors import DetectorEngine, ManualClock, Severity
from mcp_server.docker_ops.host import DockerHost

from .helpers import T0, fast_settings, logic_engine, make_event, start, unique

pytestmark = pytest.mark.anyio


async def test_crash_loop_needs_n_exits_within_the_window(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(
        offline_host, clock, crash_loop_exits=3, crash_loop_window_s=60, enabled=["crash_loop"]
    )
    # two exits, then a long pause: the first falls out of the window
    await engine.handle_event(make_event("die", T0, exit_code=1, container_id="a"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=10), exit_code=1, container_id="b"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=70), exit_code=1, container_id="c"))
    assert engine.active_signals() == []
    # a recreated container of the same service counts towards the same loop
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=75), exit_code=1, container_id="d"))
    assert engine.active_signals() == []  # 0 s and 10 s fell out of the window: only 2 exits
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=80), exit_code=2, container_id="e"))
    [sig] = engine.active_signals()
    assert sig.kind == "crash_loop" and sig.severity == Severity.critical
    assert sig.target.app_name == "shop" and sig.target.service == "web" and sig.target.container_name is None
    assert sig.evidence["exit_codes"] == [1, 1, 2]
    assert "3 exits" in sig.summary and "code 2" in sig.summary
    assert sig.auto_resolve_after_s == 60


async def test_requested_stops_are_not_crashes(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(
        offline_host,
        clock,
        crash_loop_exits=2,
        restart_storm_services=2,
        enabled=["crash_loop", "exited", "restart_storm"],
    )
    for i, service in enumerate(["web", "api", "web"]):
        at = T0 + timedelta(seconds=i * 5)
        cid = f"id-{service}"
        await engine.handle_event(make_event("kill", at, container_id=cid, service=service, signal="15"))
        await engine.handle_event(
            make_event("die", at + timedelta(seconds=1), container_id=cid, service=service, exit_code=143)
        )
    assert engine.active_signals() == []


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_a_lone_container_restarting_after_each_crash(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    name = unique("loop")
    settings = fast_settings(enabled=["crash_loop"], crash_loop_exits=3, crash_loop_window_s=120)
    async with DetectorEngine(host, settings) as engine:
        await engine.wait_connected()
        # Docker restarts it after 0.1, 0.2, 0.4 s…: three exits within about a second
        await start(
            docker_client,
            name,
            ["sh", "-c", "echo config file missing; exit 2"],
            restart_policy={"Name": "always"},
        )
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "crash_loop" and s.target.container_name == name, 60
        )
        assert sig.severity == Severity.critical and sig.runbook == "crash-loop"
        # no compose or swarm labels: the container itself is the loop's target
        assert sig.target.app_name is None and sig.target.service is None
        assert sig.evidence["exits_in_window"] >= 3 and set(sig.evidence["exit_codes"]) == {2}
        assert sig.evidence["containers"] == [name]
        assert f"container {name} is crash-looping" in sig.summary and "last exit code 2" in sig.summary
        assert sig.evidence["last_log_lines"][-1] == "stdout: config file missing"
