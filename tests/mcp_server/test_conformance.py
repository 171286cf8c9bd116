"""The official MCP conformance suite (npm @modelcontextprotocol/conformance) against our server
over streamable HTTP, started as users start it (`python -m mcp_server serve`, bearer token on).

The suite cannot send an Authorization header, so it talks to a tiny local proxy that adds the
bearer token and forwards everything else unchanged (Host and Origin included, so the server's
DNS-rebinding protection is what the `dns-rebinding-protection` scenario really exercises). The
server's auth stays on and is checked here too: without the proxy, the suite gets 401s.

Scenarios that need the SDK's "everything-server" test fixtures (tools like `test_simple_text`,
resources like `test://static-text`) are listed with the reason in conformance_baseline.yml.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
import yaml
from starlette.types import Receive, Scope, Send

from tests.mcp_server.test_inspector_cli import NODE_BIN
from tests.mcp_server.test_stdio_subprocess import REPO, SERVE_ARGV, server_env

CONFORMANCE = NODE_BIN / "conformance"
BASELINE = Path(__file__).with_name("conformance_baseline.yml")
# Generic scenarios: they need nothing but a correct MCP server (no everything-server fixtures)
GENERIC_SCENARIOS = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "tools-call-error",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
]
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-connection"}


class TokenInjectingProxy:
    """ASGI app: forward every request to `upstream` with `Authorization: Bearer <token>` added;
    stream the response back (SSE streams stay open until either side closes)."""

    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP and k != b"authorization"]
        headers.append((b"authorization", f"Bearer {self.token}".encode()))
        query = scope["query_string"].decode()
        url = f"{self.upstream}{scope['path']}" + (f"?{query}" if query else "")
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as client,
            client.stream(scope["method"], url, headers=headers, content=body) as response,
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP],
                }
            )
            async with anyio.create_task_group() as tg:

                async def stop_on_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()

                tg.start_soon(stop_on_disconnect)
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                tg.cancel_scope.cancel()


@dataclass
class ServerProcess:
    url: str
    token: str
    log: Path


@pytest.fixture
def mcp_http_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """`python -m mcp_server serve --transport streamable-http` on a free port, token required."""
    token = secrets.token_urlsafe(32)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        # read-only: whatever a scenario calls, nothing on this machine can change
        **server_env(
            tmp_path / "state", INFRAGUARDIAN_SAFETY__MODE="read-only", INFRAGUARDIAN_MCP_TOKEN=token
        ),
    }
    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, *SERVE_ARGV, "--transport", "streamable-http", "--port", "0", "--no-detectors"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            cwd=REPO,
        )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and proc.poll() is None and time.monotonic() < deadline:
            found = re.search(r"serving MCP \(streamable-http\) on (http://\S+/mcp)", log.read_text())
            url = found.group(1) if found else None
            time.sleep(0.05)
        assert url is not None, f"server did not start: {log.read_text()}"
        yield ServerProcess(url, token, log)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert token not in log.read_text()


@pytest.fixture
def proxy_url(mcp_http_server: ServerProcess) -> Iterator[str]:
    upstream = mcp_http_server.url.removesuffix("/mcp")
    config = uvicorn.Config(
        TokenInjectingProxy(upstream, mcp_http_server.token),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "proxy did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


def run_conformance(url: str, out_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CONFORMANCE.exists(), f"{CONFORMANCE} is missing: run `bash .ci/setup`"
    env = {"PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(out_dir)}  # Node 22 first
    return subprocess.run(
        [str(CONFORMANCE), "server", "--url", url, "-o", str(out_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def checks_by_scenario(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Result folders are named `server-<scenario>-<timestamp>`, each with checks.json."""
    results: dict[str, list[dict[str, Any]]] = {}
    for path in out_dir.glob("*/checks.json"):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", path.parent.name)
        results[scenario] = json.loads(path.read_text())
    return results


def test_generic_scenarios_pass(proxy_url: str, mcp_http_server: ServerProcess, tmp_path: Path) -> None:
    failed: dict[str, list[str]] = {}
    checks: dict[str, list[dict[str, Any]]] = {}
    for scenario in GENERIC_SCENARIOS:
        out_dir = tmp_path / scenario
        proc = run_conformance(proxy_url, out_dir, "--scenario", scenario)
        (found,) = checks_by_scenario(out_dir).values()
        checks[scenario] = found
        bad = [f"{c['id']}: {c.get('errorMessage')}" for c in found if c["status"] in ("FAILURE", "WARNING")]
        if proc.returncode != 0 or bad:
            failed[scenario] = bad or [proc.stderr[-2000:]]
    assert not failed, failed
    # the passes mean something: the rebinding check was the server's Host check, not auth
    (rejected,) = [
        c for c in checks["dns-rebinding-protection"] if c["id"] == "localhost-host-rebinding-rejected"
    ]
    assert rejected["details"]["statusCode"] == 421
    assert any(c["status"] == "SUCCESS" for c in checks["tools-list"])
    assert "Traceback" not in mcp_http_server.log.read_text()


def test_whole_active_suite_matches_the_baseline(proxy_url: str, tmp_path: Path) -> None:
    """Every other scenario fails only as the baseline says (fixtures we do not ship); a scenario
    that starts passing, or a new failure, fails this test (the suite checks both ways)."""
    proc = run_conformance(proxy_url, tmp_path / "out", "--expected-failures", str(BASELINE))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    baseline = yaml.safe_load(BASELINE.read_text())
    expected = set(baseline["server"])
    assert not expected & set(GENERIC_SCENARIOS)
    ran = checks_by_scenario(tmp_path / "out")
    assert set(GENERIC_SCENARIOS) <= set(ran), sorted(ran)


def test_without_the_token_the_suite_is_refused(mcp_http_server: ServerProcess, tmp_path: Path) -> None:
    proc = run_conformance(mcp_http_server.url, tmp_path / "out", "--scenario", "server-initialize")
    assert proc.returncode != 0
    (found,) = checks_by_scenario(tmp_path / "out").values()
    assert all(c["status"] == "FAILURE" for c in found)
    assert "no bearer token" in found[0]["errorMessage"]
