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
        values: dict[str, object] = {"server_url": self.url, "server_token": self.token, "reconnect_max_s": 2.0}
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
