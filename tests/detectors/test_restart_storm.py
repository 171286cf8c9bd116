"""Restart-storm detector: a real compose project whose services crash together (the same run
also proves crash_loop at service level, exited, and that compose down is not a crash), and the
distinct-services logic."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml

from mcp_server.detectors import DetectorEngine, ManualClock, Severity
from mcp_server.docker_ops.compose_binary import compose_command
from mcp_server.docker_ops.host import DockerHost

from .helpers import LABELS, T0, fast_settings, logic_engine, make_event, start, unique

pytestmark = pytest.mark.anyio


@pytest.mark.docker
@pytest.mark.usefixtures("labelled_cleanup")
async def test_crash_loop_exited_and_restart_storm_in_a_compose_project(
    host: DockerHost, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    project = unique("storm")
    service = {
        "image": "ig/busybox:test",
        "restart": "always",
        "network_mode": "none",
        "labels": LABELS,
    }
    spec: dict[str, Any] = {
        "services": {
            name: {**service, "command": ["sh", "-c", f"echo {name} cannot reach its database; exit 1"]}
            for name in ("api", "web", "worker")
        }
    }
    # a healthy service that only dies when compose down stops it: that must never count as a crash
    spec["services"]["db"] = {**service, "command": ["sleep", "3600"]}
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(yaml.safe_dump(spec))
    argv = [*compose_command(), "-p", project, "-f", str(compose_file)]
    settings = fast_settings(
        enabled=["crash_loop", "exited", "restart_storm"],
        crash_loop_exits=3,
        crash_loop_window_s=120,
        restart_storm_services=3,
        restart_storm_window_s=120,
    )
    try:
        async with DetectorEngine(host, settings) as engine:
            await engine.wait_connected()
            up = await anyio.run_process([*argv, "up", "-d"], check=False)
            assert up.returncode == 0, up.stderr.decode()

            loop = await engine.wait_for_signal(
                lambda s: (
                    s.kind == "crash_loop" and s.target.app_name == project and s.target.service == "web"
                ),
                60,
            )
            assert loop.severity == Severity.critical and loop.runbook == "crash-loop"
            assert loop.target.container_name is None  # the service, so a recreated container stays in it
            assert loop.evidence["exits_in_window"] >= 3 and set(loop.evidence["exit_codes"]) == {1}
            assert any("web cannot reach its database" in line for line in loop.evidence["last_log_lines"])

            exited = await engine.wait_for_signal(
                lambda s: s.kind == "exited" and s.target.app_name == project and s.target.service == "api",
                30,
            )
            assert exited.evidence["exit_code"] == 1 and exited.runbook == "exited-nonzero"
            assert exited.target.container_name == f"{project}-api-1"
            assert "general error" in exited.summary and "restart policy always" in exited.summary
            assert exited.evidence["explanation"]["meaning"]

            storm = await engine.wait_for_signal(
                lambda s: s.kind == "restart_storm" and s.target.app_name == project, 60
            )
            assert storm.runbook == "restart-storm" and storm.severity == Severity.critical
            assert storm.evidence["services"] == ["api", "web", "worker"]

            # compose down kills db (exit 137 after SIGKILL): a requested stop, not a crash
            down = await anyio.run_process([*argv, "down", "-t", "0"], check=False)
            assert down.returncode == 0, down.stderr.decode()
            # events are handled in order: once a later crash is seen, db's death was judged too
            marker = unique("marker")
            await start(docker_client, marker, ["sh", "-c", "exit 3"])
            await engine.wait_for_signal(lambda s: s.target.container_name == marker, 30)
            assert not [s for s in engine.active_signals() if s.target.service == "db"]
            assert all(
                s.evidence["exit_code"] == 1
                for s in engine.active_signals()
                if s.kind == "exited" and s.target.app_name == project
            )
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.run_process([*argv, "down", "-t", "0", "-v"], check=False)


async def test_restart_storm_needs_distinct_services(offline_host: DockerHost) -> None:
    clock = ManualClock(T0)
    engine = logic_engine(
        offline_host, clock, restart_storm_services=3, restart_storm_window_s=120, enabled=["restart_storm"]
    )
    for i in range(5):  # one service dying often is a crash loop, not a storm
        await engine.handle_event(make_event("die", T0 + timedelta(seconds=i), exit_code=1, service="web"))
    assert engine.active_signals() == []
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=10), exit_code=1, service="api"))
    await engine.handle_event(make_event("die", T0 + timedelta(seconds=20), exit_code=1, service="worker"))
    [sig] = engine.active_signals()
    assert sig.target.app_name == "shop" and sig.target.service is None
    assert sig.evidence["services"] == ["api", "web", "worker"]
    assert sig.evidence["exits_per_service"]["web"] == 5
    # containers without a compose project never make a storm
    other = logic_engine(offline_host, clock, restart_storm_services=2, enabled=["restart_storm"])
    for svc in ("a", "b", "c"):
        await other.handle_event(make_event("die", T0, exit_code=1, project=None, service=None, name=svc))
    assert other.active_signals() == []
