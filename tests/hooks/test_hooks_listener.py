"""The webhooks where no MCP HTTP listener runs: `watch` and `serve` over stdio (how the agent spawns
its server) listen on INFRAGUARDIAN_HOOKS__PORT for /hooks/ only. Real processes, real sockets."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mcp_server.hooks.inbox import AlertInbox
from tests.detectors.helpers import free_port
from tests.hooks.recordings import ALERTMANAGER, load

TOKEN = "hooks-" + secrets.token_urlsafe(24)


def _env(state: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAGUARDIAN_")}
    env.update(
        INFRAGUARDIAN_STATE_DIR=str(state),
        INFRAGUARDIAN_MCP_TOKEN=TOKEN,
        INFRAGUARDIAN_HOOKS__PORT=str(port),
        INFRAGUARDIAN_DETECTORS__INCLUDE_LABELS='{"ig.hooks-listener": "none"}',  # watch nothing
    )
    return env


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("no /healthz on the webhooks port within 60 s")


def test_watch_and_a_stdio_server_share_one_webhooks_port_and_store_into_one_inbox(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    env = _env(state, port)
    watch = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "watch", "--log-level", "info"],
        env=env,
        stderr=(tmp_path / "watch.log").open("wb"),
    )
    stdio = None
    try:
        _wait_healthy(port, watch)
        # the stdio server the agent would spawn: same port, taken; it says so and serves MCP anyway
        stdio = subprocess.Popen(
            [sys.executable, "-m", "mcp_server", "serve", "--no-detectors", "--log-level", "info"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "stdio.log").open("wb"),
        )
        deadline = time.monotonic() + 60
        while "webhooks not served by this process" not in (tmp_path / "stdio.log").read_text(
            errors="replace"
        ):
            assert time.monotonic() < deadline, (tmp_path / "stdio.log").read_text(errors="replace")
            assert stdio.poll() is None, "the stdio server exited"
            time.sleep(0.1)

        recorded = load(ALERTMANAGER / "bearer_authorization__firing.json")
        url = f"http://127.0.0.1:{port}/hooks/alertmanager"
        headers = {"content-type": recorded.content_type}
        assert httpx.post(url, content=recorded.body, headers=headers).status_code == 401
        answer = httpx.post(
            url, content=recorded.body, headers={**headers, "authorization": f"Bearer {TOKEN}"}
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == len(
            recorded.record["body"]["alerts"]
        )
        # no MCP here, even with the MCP token
        mcp = httpx.post(
            f"http://127.0.0.1:{port}/mcp", json={}, headers={"authorization": f"Bearer {TOKEN}"}
        )
        assert mcp.status_code == 404
        inbox = AlertInbox.in_state_dir(state)
        try:
            assert {a.alert.key for a in inbox.firing("local")} == {
                a["fingerprint"] for a in recorded.record["body"]["alerts"] if a["status"] == "firing"
            }
        finally:
            inbox.close()

        # the watcher stops cleanly on SIGTERM, its listener with it
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(timeout=30) == 0
        assert stdio.stdin is not None
        stdio.stdin.close()  # the client went away: the stdio server ends
        assert stdio.wait(timeout=30) == 0
    finally:
        for process in (watch, stdio):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert "webhooks (this process serves no MCP over HTTP)" in (tmp_path / "watch.log").read_text()
