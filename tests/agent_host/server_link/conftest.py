"""Fixtures for the link tests: a real `infraguardian-mcp serve` over HTTP in a child process
(killable, restartable on the same port), the environment a spawned stdio server gets, and the
Docker fixtures of the action-tool tests (labelled busybox containers, removed at teardown)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import docker
import httpx
import pytest

from agent_host.server_link import LinkSettings
from tests.conftest import free_port
from tests.mcp_server import act_fixtures

engine, make_container = act_fixtures.engine, act_fixtures.make_container


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    """The server's environment: its own state directory and token, no Dokploy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFRAGUARDIAN_")}
    env["INFRAGUARDIAN_STATE_DIR"] = str(tmp_path / "server-state")
    env["INFRAGUARDIAN_MCP_TOKEN"] = "tok-" + secrets.token_urlsafe(24)
    return env


class HttpServer:
    """`python -m mcp_server serve --transport streamable-http` on a fixed port, as a child."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @property
    def token(self) -> str:
        return self.env["INFRAGUARDIAN_MCP_TOKEN"]

    def settings(self, **overrides: object) -> LinkSettings:
        values: dict[str, object] = {
            "server_url": self.url,
            "server_token": self.token,
            "reconnect_max_s": 2.0,
        }
        return LinkSettings.model_validate({**values, **overrides})

    def start(self, wait: bool = True) -> None:
        command = [sys.executable, "-m", "mcp_server", "serve", "--transport", "streamable-http"]
        command += ["--port", str(self.port), "--no-detectors", "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=self.env)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, "the server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer /healthz within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL, like a crash or `kill -9` (no shutdown, no goodbye to clients)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def http_server(server_env: dict[str, str]) -> Iterator[HttpServer]:
    server = HttpServer(server_env)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# ignores SIGTERM, so a restart takes the whole 10 s grace: time to kill the server mid-action
STUBBORN = "trap '' TERM; while true; do sleep 1; done"
# budgets without waits, so a repeated restart would really run (and be counted)
NO_BACKOFF_ENV = {"INFRAGUARDIAN_SAFETY__BUDGETS__RESTART": '{"max_actions": 3, "window_s": 1800}'}


def engine_events(engine: docker.DockerClient, container_id: str, action: str, since: float) -> int:
    """How many `action` events the engine logged for the container since `since` (until now)."""
    events = engine.events(
        since=int(since),
        until=int(time.time()) + 1,
        filters={"container": container_id, "event": action},
        decode=True,
    )
    return sum(1 for _ in events)


async def kill_server_during_restart(
    server: HttpServer, engine: docker.DockerClient, container_id: str, since: float
) -> None:
    """SIGKILL the server once the engine has sent the container its SIGTERM (the restart runs),
    then start it again on the same port."""
    with anyio.fail_after(60):
        while not await anyio.to_thread.run_sync(engine_events, engine, container_id, "kill", since):  # noqa: ASYNC110 - polls the engine
            await anyio.sleep(0.1)
    server.kill()
    await anyio.sleep(0.5)
    await anyio.to_thread.run_sync(server.start)


async def wait_restarted(engine: docker.DockerClient, container_id: str, since: float) -> None:
    """Until the engine finished the restart the dead server asked for (it goes on without it)."""
    with anyio.fail_after(60):
        while not await anyio.to_thread.run_sync(engine_events, engine, container_id, "restart", since):  # noqa: ASYNC110 - polls the engine
            await anyio.sleep(0.5)


@pytest.fixture
def no_backoff_server(server_env: dict[str, str]) -> Iterator[HttpServer]:
    """A server whose restart budget has no waits, so a repeated restart would really run."""
    server = HttpServer({**server_env, **NO_BACKOFF_ENV})
    server.start()
    try:
        yield server
    finally:
        server.kill()
