"""Killing a stdio session loses no signal: signals live in the state store, not in the server.

A real `serve` child of an `mcp.Client` sees a real OOM kill; the server is then killed with
SIGKILL (nothing flushed, lease not given up). A new stdio session on the same state directory
sees the same signal at once, from the store (its own watcher stands by while the dead one's lease
is live), and once it takes the lease over the signal is still there, raised only once."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client, StdioServerParameters

from mcp_server.watcher import SignalReader, SqliteSignalStore
from tests.conftest import free_port
from tests.mcp_server.test_stdio_subprocess import REPO, SERVE_ARGV, server_env

pytestmark = [pytest.mark.docker, pytest.mark.anyio]

LABEL = {"ig.test": "mcp-stdio-survive"}
HOST = "local"


def stdio_params(state_dir: Path) -> StdioServerParameters:
    detectors = {"include_labels": LABEL, "enabled": ["oom", "exited"], "state_poll_interval_s": 2.0}
    env = server_env(state_dir, INFRAGUARDIAN_DETECTORS=json.dumps(detectors))
    return StdioServerParameters(command=sys.executable, args=SERVE_ARGV, env=env, cwd=str(REPO))


async def oom_signals(client: Client, name: str) -> list[dict[str, Any]]:
    result = await client.call_tool("active_signals", {"min_severity": "warning"})
    signals = result.structured_content["signals"]  # type: ignore[index]
    return [s for s in signals if s["kind"] == "oom" and s["target"]["container_name"] == name]


async def test_a_killed_stdio_session_loses_no_signal(tmp_path: Path) -> None:
    state = tmp_path / "state"
    engine = docker.from_env()
    name = f"ig-mcp-survive-{free_port()}"
    store = SqliteSignalStore.in_state_dir(state)
    try:
        async with Client(stdio_params(state)) as first:
            await anyio.to_thread.run_sync(
                lambda: engine.containers.run(
                    "ig/busybox:test",
                    ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M"],
                    name=name,
                    detach=True,
                    mem_limit="32m",
                    memswap_limit="32m",
                    network_mode="none",
                    labels=LABEL,
                )
            )
            with anyio.fail_after(60):
                while not (seen := await oom_signals(first, name)):  # noqa: ASYNC110 - a tool call
                    await anyio.sleep(0.5)
            lease = store.current_lease(HOST)
            assert lease is not None
            killed_pid = lease.pid()  # the serve process: its watcher holds the lease
            assert killed_pid is not None and killed_pid != os.getpid()
            os.kill(killed_pid, signal.SIGKILL)
            with anyio.fail_after(10):
                while _alive(killed_pid):  # noqa: ASYNC110
                    await anyio.sleep(0.1)
        reader = SignalReader(store, HOST)
        written = [(c.change, c.at) for c in reader.history(seen[0]["id"])]
        assert [change for change, _ in written].count("raised") == 1

        async with Client(stdio_params(state)) as second:
            # at once, before any detector of this session could have run: it comes from the store
            [again] = await oom_signals(second, name)
            assert (again["id"], again["first_seen"]) == (seen[0]["id"], seen[0]["first_seen"])
            resource = await second.read_resource("infraguardian://signals")
            assert seen[0]["id"] in resource.contents[0].text  # type: ignore[union-attr]

            # the dead watcher's lease expires and this session's watcher takes over
            with anyio.fail_after(40):
                while (current := store.current_lease(HOST)) is None or current.pid() == killed_pid:  # noqa: ASYNC110
                    await anyio.sleep(0.5)
            await anyio.sleep(3)  # the new engine replays the OOM event and polls the container
            [kept] = await oom_signals(second, name)
            assert kept["first_seen"] == seen[0]["first_seen"]
            # the new holder continued the signal: nothing raised or flipped again
            assert [(c.change, c.at) for c in reader.history(seen[0]["id"])] == written
    finally:
        store.close()
        engine.containers.get(name).remove(force=True)
        engine.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child stays a zombie until its parent (the stdio client) reaps it
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"
