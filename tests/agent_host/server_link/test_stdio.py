"""The link without a URL: it spawns `python -m mcp_server serve --transport stdio` with the
environment it was given, and spawns it again when the child dies."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from agent_host.server_link import LinkSettings, ServerLink, ServerUnavailable

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SPAWN_ARGS = ["--no-detectors", "--log-level", "warning"]


def pid_of(description: str) -> int:
    found = re.fullmatch(r"stdio: spawned infraguardian-mcp \(pid (\d+)\)", description)
    assert found, description
    return int(found.group(1))


def proc_fields(pid: int, name: str) -> list[bytes]:
    """/proc/<pid>/<name> (cmdline, environ) split at its NUL bytes."""
    return Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0")


def alive(pid: int) -> bool:
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False


async def test_spawned_server_over_stdio_is_spawned_again_after_it_dies(server_env: dict[str, str]) -> None:
    settings = LinkSettings(spawn_args=SPAWN_ARGS, reconnect_max_s=2, connect_timeout_s=90)
    async with ServerLink(settings, env=server_env) as link:
        first_pid = pid_of(link.describe())
        cmdline = proc_fields(first_pid, "cmdline")
        environ = proc_fields(first_pid, "environ")
        before = await link.call_tool("list_inventory", {})
        annotations = await link.tool_annotations()
        os.kill(first_pid, signal.SIGKILL)
        after = await link.call_tool("list_inventory", {})  # waits for the new child
        second_pid = pid_of(link.describe())
    assert cmdline[1:7] == [b"-m", b"mcp_server", b"serve", b"--transport", b"stdio", b"--no-detectors"]
    assert f"INFRAGUARDIAN_STATE_DIR={server_env['INFRAGUARDIAN_STATE_DIR']}".encode() in environ
    assert before.ok and after.ok and not after.outcome_unknown
    assert annotations["read_logs"].read_only_hint is True
    assert second_pid != first_pid
    assert not alive(second_pid)  # closing the link stopped its child
    assert link.describe() == "stdio: infraguardian-mcp (not running)" and not link.connected


async def test_a_spawned_server_that_cannot_start_is_one_clear_error(server_env: dict[str, str]) -> None:
    env = {**server_env, "INFRAGUARDIAN_MCP_PORT": "not-a-port"}  # the server's settings refuse it
    settings = LinkSettings(spawn_args=SPAWN_ARGS, reconnect_max_s=1, connect_timeout_s=300)
    with pytest.raises(ServerUnavailable) as unavailable:
        async with ServerLink(settings, env=env):
            pass
    message = str(unavailable.value)
    # at once, not after the 300 s wait: a server that cannot start will not start by waiting
    assert message.startswith("cannot start the MCP server: the spawned server exited with status 2")
    assert "(its error is on stderr)" in message and "INFRAGUARDIAN_AGENT__SERVER_URL" in message
