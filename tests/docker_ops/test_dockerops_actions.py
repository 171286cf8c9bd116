"""Actions on the real engine: container and compose-service start/stop/restart/kill, a live
memory-limit change, and the exec allowlist."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import docker
import pytest

from mcp_server.docker_ops.actions import compose_service_action, container_action, update_memory_limit
from mcp_server.docker_ops.compose_binary import compose_command
from mcp_server.docker_ops.exec_allowlist import _run_exec, exec_diagnostic
from mcp_server.docker_ops.host import (
    ActionRefused,
    ComposeServiceNotFound,
    ContainerNotFound,
    DockerHost,
    InvalidArgument,
)

from .dockerops_helpers import LABELS, RUN_ID, TEST_IMAGE, run_container, unique, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

PROJECT = f"ig-dockerops-act-{RUN_ID}"


@pytest.fixture
def sleeper(docker_client: docker.DockerClient) -> Iterator[str]:
    name = unique("sleeper")
    # init: sleep as PID 1 would ignore SIGTERM and every stop would wait for the grace period
    container = run_container(docker_client, name, ["sleep", "3600"], init=True, mem_limit="64m")
    try:
        yield name
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def scaled_compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("compose-act")
    labels = "\n".join(f'      {k}: "{v}"' for k, v in LABELS.items())
    (workdir / "docker-compose.yml").write_text(
        f"""
services:
  api:
    image: {TEST_IMAGE}
    command: ["sleep", "3600"]
    init: true
    network_mode: none
    deploy:
      replicas: 2
    labels:
{labels}
"""
    )
    base = [*compose_command(), "-p", PROJECT, "-f", str(workdir / "docker-compose.yml")]
    up = subprocess.run([*base, "up", "-d", "--wait"], capture_output=True, text=True)
    try:
        assert up.returncode == 0, up.stderr
        yield PROJECT
    finally:
        down = subprocess.run([*base, "down", "-t", "0"], capture_output=True, text=True)
        assert down.returncode == 0, down.stderr


async def test_container_actions(host: DockerHost, sleeper: str) -> None:
    stopped = await container_action(host, sleeper, "stop", grace_seconds=5)
    assert (stopped.status_before, stopped.status_after, stopped.ok) == ("running", "exited", True)
    with pytest.raises(ActionRefused, match="not running"):
        await container_action(host, sleeper, "kill")
    started = await container_action(host, sleeper, "start")
    assert (started.status_before, started.status_after) == ("exited", "running")
    restarted = await container_action(host, sleeper, "restart", grace_seconds=5)
    assert restarted.ok and restarted.status_after == "running"
    killed = await container_action(host, sleeper, "kill", signal="SIGKILL")
    assert killed.ok and killed.status_after == "exited"
    with pytest.raises(ContainerNotFound, match="ig-dockerops-nope"):
        await container_action(host, "ig-dockerops-nope", "restart")
    with pytest.raises(InvalidArgument):
        await container_action(host, sleeper, "explode")  # type: ignore[arg-type]


async def test_compose_service_actions_hit_every_replica(host: DockerHost, scaled_compose: str) -> None:
    stopped = await compose_service_action(host, scaled_compose, "api", "stop", grace_seconds=5)
    assert stopped.ok and len(stopped.results) == 2
    assert [r.container for r in stopped.results] == [f"{scaled_compose}-api-1", f"{scaled_compose}-api-2"]
    assert {r.status_after for r in stopped.results} == {"exited"}
    started = await compose_service_action(host, scaled_compose, "api", "start")
    assert started.ok and {r.status_after for r in started.results} == {"running"}
    restarted = await compose_service_action(host, scaled_compose, "api", "restart", grace_seconds=5)
    assert restarted.ok and {r.status_after for r in restarted.results} == {"running"}
    with pytest.raises(ComposeServiceNotFound, match="nosuch"):
        await compose_service_action(host, scaled_compose, "nosuch", "restart")


async def test_memory_limit_change_is_live_and_reported(
    host: DockerHost, sleeper: str, docker_client: docker.DockerClient
) -> None:
    change = await update_memory_limit(host, sleeper, "128m")
    assert change.ok
    assert change.old_memory_bytes == 64 * 1024 * 1024 and change.new_memory_bytes == 128 * 1024 * 1024
    # created with -m 64m the engine set memory+swap to 128m: the 64m swap allowance is kept
    assert change.old_memory_swap_bytes == 128 * 1024 * 1024
    assert change.new_memory_swap_bytes == 192 * 1024 * 1024
    assert change.memory_usage_bytes is not None and 0 < change.memory_usage_bytes < 64 * 1024 * 1024
    assert "lost" in change.note
    inspected = docker_client.api.inspect_container(sleeper)["HostConfig"]
    assert (inspected["Memory"], inspected["MemorySwap"]) == (128 * 1024 * 1024, 192 * 1024 * 1024)

    lowered = await update_memory_limit(host, sleeper, 32 * 1024 * 1024, memory_swap="32m")
    assert lowered.ok and (lowered.new_memory_bytes, lowered.new_memory_swap_bytes) == (32 << 20, 32 << 20)
    with pytest.raises(InvalidArgument, match="memory_swap"):
        await update_memory_limit(host, sleeper, "64m", memory_swap="32m")
    with pytest.raises(InvalidArgument, match="6 MiB"):
        await update_memory_limit(host, sleeper, "1m")


async def test_memory_limit_below_current_use_is_refused(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    name = unique("hog")
    script = "x=$(head -c 16000000 /dev/zero | tr '\\0' a); sleep 3600 & wait"  # ~16 MB resident
    container = run_container(docker_client, name, ["sh", "-c", script], init=True, mem_limit="64m")
    try:
        wait_for(
            lambda: (
                docker_client.api.stats(container.id, stream=False, one_shot=True)["memory_stats"]["usage"]
                > 16_000_000
            ),
            what="16 MB in use",
        )
        with pytest.raises(ActionRefused, match="OOM-kill"):
            await update_memory_limit(host, name, "8m")
        assert docker_client.api.inspect_container(name)["HostConfig"]["Memory"] == 64 * 1024 * 1024
    finally:
        container.remove(force=True)


async def test_exec_allowlist_runs_and_refuses(host: DockerHost, sleeper: str) -> None:
    df = await exec_diagnostic(host, sleeper, "df -h")
    assert df.exit_code == 0 and "Filesystem" in df.stdout and not df.truncated and not df.timed_out
    ps = await exec_diagnostic(host, sleeper, ["ps"])
    assert ps.exit_code == 0 and "sleep 3600" in ps.stdout
    meminfo = await exec_diagnostic(host, sleeper, "cat /proc/meminfo", max_bytes=40)
    assert meminfo.truncated and len(meminfo.stdout.encode()) <= 40 and meminfo.stdout.startswith("MemTotal")
    missing = await exec_diagnostic(host, sleeper, "ss -tlnp")  # busybox has no ss
    assert missing.exit_code in (126, 127) and missing.note and "not installed" in missing.note
    for refused in ("env", "cat /etc/shadow", "df -h; id", "sh -c id", "rm -rf /"):
        with pytest.raises(ActionRefused, match="df -h"):
            await exec_diagnostic(host, sleeper, refused)
    await container_action(host, sleeper, "kill")
    with pytest.raises(ActionRefused, match="not running"):
        await exec_diagnostic(host, sleeper, "uptime")


async def test_exec_time_limit_cuts_a_hanging_command(
    docker_client: docker.DockerClient, sleeper: str
) -> None:
    # no allowlisted diagnostic hangs on purpose, so drive the runner below the allowlist
    container_id = docker_client.containers.get(sleeper).id or ""
    out, err, truncated, timed_out, exit_code = await anyio.to_thread.run_sync(
        lambda: _run_exec(docker_client, container_id, ["sh", "-c", "echo started; sleep 30"], 1.0, 1000)
    )
    assert timed_out and not truncated and exit_code is None
    assert out == b"started\n" and err == b""


async def test_a_raise_starts_a_container_waiting_in_the_restart_back_off(
    host: DockerHost, docker_client: docker.DockerClient
) -> None:
    """An OOM loop makes Docker wait longer before each start (up to a minute): the raise ends the
    wait so the new limit applies now. Without `start_if_waiting` it keeps waiting."""
    name = unique("oomloop")
    script = "dd if=/dev/zero of=/dev/null bs=40M count=1 && sleep 3600"
    container = run_container(
        docker_client, name, ["sh", "-c", script], init=True, mem_limit="32m", memswap_limit="32m",
        restart_policy={"Name": "unless-stopped"},
    )  # fmt: skip
    try:

        def waiting() -> bool:
            state = docker_client.api.inspect_container(name)
            return bool(state["State"]["Restarting"]) and state["RestartCount"] >= 6  # waits 3.2 s or more

        wait_for(waiting, what="waiting in the restart back-off", timeout=60)
        kept = await update_memory_limit(host, name, "36m")  # still too small, and not started
        assert kept.ok and not kept.started_now
        assert docker_client.api.inspect_container(name)["State"]["Restarting"]
        raised = await update_memory_limit(host, name, "64m", start_if_waiting=True)
        assert raised.ok and raised.started_now
        state = docker_client.api.inspect_container(name)["State"]
        assert state["Status"] == "running" and not state["Restarting"]
        await anyio.sleep(1)  # the 40 MiB buffer fits now: it keeps running
        assert docker_client.api.inspect_container(name)["State"]["Status"] == "running"
    finally:
        container.remove(force=True)
