"""Each container detector proven on the real engine: the test causes the real fault with
`ig/busybox:test` and waits for the engine to raise the signal (and, where it can, to resolve it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
import yaml

from mcp_server.detectors import DetectorEngine, Severity
from mcp_server.docker_ops.compose_binary import compose_command
from mcp_server.docker_ops.host import DockerHost

from .helpers import LABELS, MiB, cleanup_labelled, fast_settings, start, unique, wait_resolved

pytestmark = [pytest.mark.docker, pytest.mark.anyio]


@pytest.fixture(autouse=True)
def _cleanup(docker_client: docker.DockerClient) -> Iterator[None]:
    yield
    cleanup_labelled(docker_client)


async def test_oom_kill_under_a_32mb_limit(host: DockerHost, docker_client: docker.DockerClient) -> None:
    name = unique("oom")
    async with DetectorEngine(host, fast_settings(enabled=["oom", "exited"])) as engine:
        await engine.wait_connected()
        # dd allocates a 64 MiB buffer and fills it: the kernel kills it at 32 MiB
        await start(
            docker_client,
            name,
            ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
            mem_limit="32m",
            memswap_limit="32m",
        )
        sig = await engine.wait_for_signal(
            lambda s: s.kind == "oom" and s.target.container_name == name and s.severity == Severity.critical,
            30,
        )
        assert sig.runbook == "oom-killed"
        assert sig.evidence["exit_code"] == 137 and sig.evidence["oom_killed"] is True
        assert sig.evidence["memory_limit_bytes"] == 32 * MiB
        assert "OOM-killed" in sig.summary and "32.0 MiB" in sig.summary
        # the same death is not reported again as a plain non-zero exit
        assert not [
            s for s in engine.active_signals() if s.kind == "exited" and s.target.container_name == name
        ]


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
