"""HTTP beyond localhost (issue 12, item 8): the real `serve` command as a child process.

Only loopback addresses are ever connected to. A "non-loopback bind" binds 0.0.0.0 or :: and is
reached through 127.0.0.1 or ::1; what it would be called from outside is sent as the Host header.
Before the fix, a 0.0.0.0 bind turned the Host/Origin check off (`Host: evil.example` got 200 with
the token) and started without any word about TLS.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from mcp_server.server.http_exposure import machine_addresses

REPO = Path(__file__).resolve().parents[2]
TOKEN = "exposure-token-0123456789abcdef"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SERVING = re.compile(
    r"serving MCP \((?P<transport>[a-z-]+)\) on http://(?P<host>.+):(?P<port>\d+)(?P<path>/\w+)"
)
BOGUS_SSE_SESSION = "0123456789abcdef0123456789abcdef"


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: no inherited INFRAGUARDIAN_* settings can change what is tested."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "INFRAGUARDIAN_STATE_DIR": str(tmp_path / "state"),
        "INFRAGUARDIAN_MCP_TOKEN": TOKEN,
        **extra,
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    return env


def serve_argv(transport: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mcp_server",
        "serve",
        "--transport",
        transport,
        "--port",
        "0",
        "--no-detectors",
        *args,
    ]


@dataclass
class Served:
    """A running child server: `base` is how the test reaches it (always a loopback address)."""

    base: str
    port: int
    path: str
    stderr: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.base + self.path

    def log(self) -> str:
        return "\n".join(self.stderr)


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Move the child's stderr lines into `lines` (a thread: reading blocks)."""
    for line in stream:
        lines.put(line.rstrip("\n"))


@contextmanager
def served(
    tmp_path: Path, transport: str, *args: str, connect_via: str = "127.0.0.1", **env: str
) -> Iterator[Served]:
    """Start `serve` with `args`, wait until /healthz answers on `connect_via`, stop it after."""
    proc = subprocess.Popen(
        serve_argv(transport, *args),
        cwd=REPO,
        env=server_env(tmp_path, **env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    stderr: list[str] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=_pump, args=(proc.stderr, lines), daemon=True)
    reader.start()
    try:
        match = None
        deadline = time.monotonic() + 60
        while match is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert proc.poll() is None, f"the server exited ({proc.returncode}): {stderr}"
                continue
            stderr.append(line)
            match = SERVING.search(line)
        assert match is not None, f"the server did not say where it serves: {stderr}"
        host = f"[{connect_via}]" if ":" in connect_via else connect_via
        server = Served(
            base=f"http://{host}:{match['port']}", port=int(match["port"]), path=match["path"], stderr=stderr
        )
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        time.sleep(0.2)  # let the start-up log lines after "serving MCP" arrive
        while not lines.empty():
            stderr.append(lines.get())
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        reader.join(timeout=5)
        while not lines.empty():
            stderr.append(lines.get())


def mcp_call(raw: httpx.Client, server: Served, *, token: bool = True, **headers: str) -> httpx.Response:
    """One MCP request through the transport's own route (initialize, or an SSE message post)."""
    sent = {**MCP_HEADERS, **(AUTH if token else {}), **headers}
    if server.path == "/mcp":
        return raw.post(server.url, json=INIT, headers=sent)
    return raw.post(f"{server.base}/messages/?session_id={BOGUS_SSE_SESSION}", json=INIT, headers=sent)


def passed_the_checks(response: httpx.Response) -> bool:
    """Streamable HTTP answers 200; the SSE message post for an unknown session 404 — either way
    the request got past Host, Origin and the token (401/403/421 are the refusals)."""
    return response.status_code in (200, 404)


def interface_addresses_from_ip() -> list[str]:
    """Global addresses as `ip -j addr` reports them: an oracle independent of the server's code."""
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    found = []
    for interface in json.loads(out):
        for info in interface.get("addr_info", []):
            if info.get("scope") == "global":
                found.append(info["local"])
    return found


# -- refusing to start -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--host", "0.0.0.0"], "refusing to serve plain HTTP on 0.0.0.0:0 (not a loopback address"),
        (["--host", "::"], "refusing to serve plain HTTP on [::]:0 (not a loopback address"),
        (
            ["--host", "0.0.0.0", "--behind-tls-proxy", "--insecure-plain-http"],
            "give either --behind-tls-proxy or --insecure-plain-http, not both",
        ),
        (
            ["--allowed-host", "https://mcp.example.com/mcp"],
            "invalid setting INFRAGUARDIAN_MCP_ALLOWED_HOSTS: 'https://mcp.example.com/mcp' is not a host name",
        ),
        (
            ["--allowed-origin", "app.example.com"],
            "invalid setting INFRAGUARDIAN_MCP_ALLOWED_ORIGINS: 'app.example.com' is not an origin",
        ),
    ],
)
def test_serve_refuses_to_start_with_one_line_naming_the_fix(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = subprocess.run(
        serve_argv("streamable-http", *args),
        cwd=REPO,
        env=server_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {expected}"), lines[0]
    if "plain HTTP" in expected:
        assert "--behind-tls-proxy" in lines[0] and "--insecure-plain-http" in lines[0]
    assert not (tmp_path / "state" / "mcp-token").exists()  # refused before anything was created


# -- a wildcard bind keeps the Host/Origin check --------------------------------------------------------


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_wildcard_bind_refuses_foreign_hosts_and_origins_even_with_the_token(
    tmp_path: Path, transport: str
) -> None:
    with (
        served(tmp_path, transport, "--host", "0.0.0.0", "--insecure-plain-http") as server,
        httpx.Client(timeout=10) as raw,
    ):
        port = server.port
        for foreign in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
            refused = mcp_call(raw, server, Host=foreign)
            assert refused.status_code == 421, (foreign, refused.text)
            assert TOKEN not in refused.text
        if transport == "sse":  # the stream route is checked too, before any stream opens
            assert raw.get(server.url, headers={**AUTH, "Host": "evil.example"}).status_code == 421

        # the addresses it is bound to pass: loopback names, and this machine's own with the port
        for own in (f"127.0.0.1:{port}", f"localhost:{port}"):
            assert passed_the_checks(mcp_call(raw, server, Host=own)), own
        machine = [a for a in interface_addresses_from_ip() if ":" not in a]
        assert machine, "the test machine has no global IPv4 address to check"
        for address in machine:
            assert passed_the_checks(mcp_call(raw, server, Host=f"{address}:{port}")), address
            assert mcp_call(raw, server, Host=f"{address}:{port + 1}").status_code == 421

        # Origin: a browser page elsewhere is refused, the server's own origin is not
        assert mcp_call(raw, server, Origin="http://evil.example").status_code == 403
        assert mcp_call(raw, server, Origin=f"http://{machine[0]}:{port + 1}").status_code == 403
        assert passed_the_checks(mcp_call(raw, server, Origin=f"http://{machine[0]}:{port}"))

        # the token stays required on every route but the data-free health check
        assert mcp_call(raw, server, token=False).status_code == 401
        for path in ("/", "/anything", "/messages/", "/mcp"):
            assert raw.get(f"{server.base}{path}").status_code == 401, path
        health = raw.get(f"{server.base}/healthz", headers={"Host": "evil.example"})
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert "serving plain HTTP on 0.0.0.0 (--insecure-plain-http)" in server.log()
    assert "evil.example' is not a name this server answers to" in server.log()


def test_ipv6_wildcard_bind_reached_over_ipv6_loopback(tmp_path: Path) -> None:
    with (
        served(
            tmp_path, "streamable-http", "--host", "::", "--insecure-plain-http", connect_via="::1"
        ) as server,
        httpx.Client(timeout=10) as raw,
    ):
        assert mcp_call(raw, server, Host="evil.example").status_code == 421
        assert mcp_call(raw, server, Host=f"[::1]:{server.port}").status_code == 200
        for address in (a for a in interface_addresses_from_ip() if ":" in a):
            assert mcp_call(raw, server, Host=f"[{address}]:{server.port}").status_code == 200, address


# -- --allowed-host and --allowed-origin ------------------------------------------------------------------


@pytest.mark.parametrize("given_as", ["options", "environment"])
def test_allowed_hosts_and_origins_behind_a_tls_proxy(tmp_path: Path, given_as: str) -> None:
    if given_as == "options":
        args = ["--host", "0.0.0.0", "--behind-tls-proxy", "--allowed-host", "mcp.example.com"]
        args += ["--allowed-host", "ops.example.com", "--allowed-origin", "https://app.example.com"]
        env: dict[str, str] = {}
    else:
        args = []
        env = {
            "INFRAGUARDIAN_MCP_HOST": "0.0.0.0",
            "INFRAGUARDIAN_MCP_BEHIND_TLS_PROXY": "true",
            "INFRAGUARDIAN_MCP_ALLOWED_HOSTS": "mcp.example.com, ops.example.com",
            "INFRAGUARDIAN_MCP_ALLOWED_ORIGINS": "https://app.example.com",
        }
    with served(tmp_path, "streamable-http", *args, **env) as server, httpx.Client(timeout=10) as raw:
        for allowed in (
            "mcp.example.com",
            "mcp.example.com:443",
            "ops.example.com",
            f"127.0.0.1:{server.port}",
        ):
            assert mcp_call(raw, server, Host=allowed).status_code == 200, allowed
        assert mcp_call(raw, server, Host="evil.example").status_code == 421
        assert mcp_call(raw, server, Host="mcp.example.com.evil.example").status_code == 421
        public = {"Host": "mcp.example.com"}
        for origin in ("https://mcp.example.com", "https://app.example.com"):
            assert mcp_call(raw, server, Origin=origin, **public).status_code == 200, origin
        for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
            assert mcp_call(raw, server, Origin=origin, **public).status_code == 403, origin
        assert mcp_call(raw, server, token=False, **public).status_code == 401
    assert "clients connect to https://mcp.example.com/mcp through it" in server.log()
    assert "plain HTTP" not in server.log()


# -- loopback stays as it was -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [None, "::1"])
def test_loopback_default_needs_no_flag_and_answers_to_localhost_names(
    tmp_path: Path, host: str | None
) -> None:
    args = [] if host is None else ["--host", host]
    via = host or "127.0.0.1"
    with (
        served(tmp_path, "streamable-http", *args, connect_via=via) as server,
        httpx.Client(timeout=10) as raw,
    ):
        assert server.base.startswith(f"http://{'[::1]' if host else '127.0.0.1'}:")
        for name in ("localhost:1234", "127.0.0.1:9", "[::1]:80", f"localhost:{server.port}"):
            assert mcp_call(raw, server, Host=name).status_code == 200, name
        assert mcp_call(raw, server, Host="evil.example").status_code == 421
        assert mcp_call(raw, server, Origin="http://localhost:6274").status_code == 200
        assert mcp_call(raw, server, Origin="http://evil.example").status_code == 403
    assert "plain HTTP" not in server.log()
    assert "accepted Host headers: 127.0.0.1:*, localhost:*, [::1]:*" in server.log()


# -- the machine's own addresses, standard library only ----------------------------------------------------


def test_machine_addresses_include_every_global_address_ip_reports() -> None:
    oracle = interface_addresses_from_ip()
    assert oracle, "the test machine has no global address"
    v4 = machine_addresses(ipv6=False)
    both = machine_addresses(ipv6=True)
    assert {a for a in oracle if ":" not in a} <= set(v4)
    assert {a for a in oracle if ":" in a} <= set(both)
    assert not any(":" in a for a in v4)
    assert "127.0.0.1" not in both and "::1" not in both  # loopback is covered by the localhost names
