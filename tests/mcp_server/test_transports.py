"""The HTTP transports (streamable HTTP and SSE) served by uvicorn in a thread: SDK clients over a
real socket, bearer auth, the token file, the bind address and DNS-rebinding protection."""

from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from click.testing import CliRunner
from mcp import ClientSession, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from mcp_server.server import build_server
from mcp_server.server.serve_cli import serve
from mcp_server.server.transports import (
    HttpServer,
    HttpTransport,
    TransportError,
    load_or_create_token,
    prepare_http,
    token_file,
    transport_security,
)
from mcp_server.settings import Settings

TOKEN = "test-token-0123456789abcdef"
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


@contextmanager
def running(http: HttpServer) -> Iterator[HttpServer]:
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not http.server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert http.server.started, "the HTTP server did not start"
    try:
        yield http
    finally:
        http.stop()
        thread.join(timeout=10)
        http.sock.close()
        assert not thread.is_alive(), "the HTTP server did not stop"


@pytest.fixture
def serve_http(make_settings: Callable[..., Settings]) -> Callable[..., Any]:
    """serve_http(transport, **settings) -> context manager yielding a started HttpServer."""

    def start(transport: HttpTransport, allowed_hosts: tuple[str, ...] = (), **overrides: Any) -> Any:
        values: dict[str, Any] = {
            "mcp_port": 0,
            "mcp_token": TOKEN,
            "mcp_allowed_hosts": list(allowed_hosts),
            **overrides,
        }
        settings = make_settings(**values)
        mcp = build_server(settings, run_detectors=False)
        return running(prepare_http(mcp, settings, transport))

    return start


def base_of(url: str) -> str:
    return url.rsplit("/", 1)[0]


# -- SDK clients over real sockets ----------------------------------------------------------------


@pytest.mark.docker
@pytest.mark.anyio
async def test_streamable_http_client_lists_tools_and_calls_list_inventory(serve_http: Any) -> None:
    with serve_http("streamable-http") as http:
        assert http.url.endswith("/mcp")
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client,
            streamable_http_client(http.url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert "list_inventory" in tools
            result = await session.call_tool("list_inventory", {})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["host"] == "local"


@pytest.mark.docker
@pytest.mark.anyio
async def test_sse_client_lists_tools_and_calls_list_inventory(serve_http: Any) -> None:
    with serve_http("sse") as http:
        assert http.url.endswith("/sse")
        async with (
            sse_client(http.url, headers={"Authorization": f"Bearer {TOKEN}"}) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert "list_inventory" in tools
            result = await session.call_tool("list_inventory", {})
            assert not result.is_error, result.content
            assert result.structured_content is not None
            assert result.structured_content["host"] == "local"


# -- bearer auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_missing_or_wrong_token_is_401_and_healthz_is_open(serve_http: Any, transport: HttpTransport) -> None:
    with serve_http(transport) as http, httpx.Client(timeout=10) as raw:
        base = base_of(http.url)
        requests: list[tuple[str, str, dict[str, Any] | None]]
        if transport == "streamable-http":
            requests = [("POST", http.url, INIT)]
        else:
            requests = [("GET", http.url, None), ("POST", f"{base}/messages/?session_id=abc", INIT)]
        for method, url, body in requests:
            for auth in (None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", "Bearer", TOKEN):
                headers = dict(MCP_HEADERS)
                if auth is not None:
                    headers["Authorization"] = auth
                response = raw.request(method, url, json=body, headers=headers)
                assert response.status_code == 401, (method, url, auth, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert TOKEN not in response.text
        health = raw.get(f"{base}/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}


def test_right_token_is_accepted_and_two_authorization_headers_are_not(serve_http: Any) -> None:
    with serve_http("streamable-http") as http, httpx.Client(timeout=10) as raw:
        ok = raw.post(http.url, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200, ok.text
        assert ok.headers.get("mcp-session-id")
        doubled = raw.post(
            http.url,
            json=INIT,
            headers=httpx.Headers(
                [*MCP_HEADERS.items(), ("Authorization", "Bearer x"), ("Authorization", f"Bearer {TOKEN}")]
            ),
        )
        assert doubled.status_code == 401


@pytest.mark.anyio
async def test_sdk_client_with_a_wrong_token_fails(serve_http: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="infraguardian")
    refused = False
    with serve_http("streamable-http") as http:
        try:
            async with (
                httpx2.AsyncClient(headers={"Authorization": "Bearer not-the-token-0000"}) as client,
                streamable_http_client(http.url, http_client=client) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
        except* MCPError:  # the SDK wraps transport failures in ExceptionGroups
            refused = True
    assert refused
    assert "refused POST /mcp from 127.0.0.1: wrong bearer token" in caplog.text


# -- the token file -------------------------------------------------------------------------------


def test_token_file_is_generated_0600_reused_and_never_logged(
    serve_http: Any, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="infraguardian")
    settings = make_settings(mcp_port=0)
    assert settings.mcp_token is None
    path = token_file(settings)
    assert not path.exists()
    with serve_http("streamable-http", mcp_token=None) as http, httpx.Client(timeout=10) as raw:
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = path.read_text().strip()
        assert len(token) >= 32
        assert http.token.source == str(path)
        ok = raw.post(http.url, json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
    assert str(path) in caplog.text
    assert token not in caplog.text
    # a restart reuses the same token
    assert load_or_create_token(settings).value == token
    assert path.read_text().strip() == token


def test_token_file_readable_by_others_is_refused(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    path = token_file(settings)
    path.parent.mkdir(parents=True)
    path.write_text("x" * 40)
    path.chmod(0o644)
    with pytest.raises(TransportError, match="chmod 600"):
        load_or_create_token(settings)


def test_short_or_empty_tokens_are_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(TransportError, match="shorter than 16"):
        load_or_create_token(make_settings(mcp_token="short"))
    settings = make_settings()
    path = token_file(settings)
    path.parent.mkdir(parents=True)
    path.write_text("\n")
    path.chmod(0o600)
    with pytest.raises(TransportError, match="no usable token"):
        load_or_create_token(settings)


def test_configured_token_wins_and_no_file_is_written(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(mcp_token=TOKEN)
    token = load_or_create_token(settings)
    assert token.value == TOKEN
    assert "INFRAGUARDIAN_MCP_TOKEN" in token.source
    assert TOKEN not in repr(token)
    assert not token_file(settings).exists()


# -- bind address and DNS-rebinding protection -----------------------------------------------------


def test_binds_127_0_0_1_by_default(serve_http: Any, make_settings: Callable[..., Settings]) -> None:
    assert make_settings().mcp_host == "127.0.0.1"
    with serve_http("streamable-http") as http:
        assert http.sock.getsockname()[0] == "127.0.0.1"
        assert http.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_foreign_host_or_origin_is_rejected_even_with_the_token(
    serve_http: Any, transport: HttpTransport
) -> None:
    with serve_http(transport) as http, httpx.Client(timeout=10) as raw:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        if transport == "streamable-http":

            def call(**headers: str) -> httpx.Response:
                return raw.post(http.url, json=INIT, headers={**MCP_HEADERS, **auth, **headers})

        else:

            def call(**headers: str) -> httpx.Response:
                url = f"{base_of(http.url)}/messages/?session_id=0123456789abcdef0123456789abcdef"
                return raw.post(url, json=INIT, headers={**MCP_HEADERS, **auth, **headers})

        assert call(Host="evil.example.com").status_code == 421
        port = http.sock.getsockname()[1]
        assert call(Host=f"evil.example.com:{port}").status_code == 421
        assert call(Origin="http://evil.example.com").status_code == 403
        # the check is not simply refusing everything: localhost names pass it
        assert call(Host=f"localhost:{port}").status_code not in (401, 403, 421)


def test_allowed_hosts_extend_the_localhost_names(serve_http: Any) -> None:
    with (
        serve_http("streamable-http", allowed_hosts=("mcp.internal",)) as http,
        httpx.Client(timeout=10) as raw,
    ):
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        assert raw.post(http.url, json=INIT, headers={**headers, "Host": "mcp.internal"}).status_code == 200
        assert (
            raw.post(http.url, json=INIT, headers={**headers, "Host": "mcp.internal:443"}).status_code == 200
        )
        assert raw.post(http.url, json=INIT, headers={**headers, "Host": "other.internal"}).status_code == 421


def test_other_loopback_bind_answers_only_to_its_address_and_the_allowed_hosts(serve_http: Any) -> None:
    # 127.0.0.2 is loopback (no flag needed, nothing leaves the machine) but not a localhost name;
    # before issue 12 the Host check was off here and `anything.example` got 200 with the token.
    with serve_http("streamable-http", mcp_host="127.0.0.2") as http, httpx.Client(timeout=10) as raw:
        assert http.sock.getsockname()[0] == "127.0.0.2"
        port = http.sock.getsockname()[1]
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        assert (
            raw.post(http.url, json=INIT, headers={**headers, "Host": "anything.example"}).status_code == 421
        )
        assert (
            raw.post(http.url, json=INIT, headers={**headers, "Host": f"127.0.0.2:{port}"}).status_code == 200
        )
        assert raw.post(http.url, json=INIT, headers={**headers, "Host": "127.0.0.2:1"}).status_code == 421
        assert raw.post(http.url, json=INIT, headers=MCP_HEADERS).status_code == 401

    with (
        serve_http("streamable-http", mcp_host="127.0.0.2", allowed_hosts=("mcp.lan",)) as http,
        httpx.Client(timeout=10) as raw,
    ):
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
        assert raw.post(http.url, json=INIT, headers={**headers, "Host": "mcp.lan:8765"}).status_code == 200
        assert raw.post(http.url, json=INIT, headers={**headers, "Host": "localhost:1"}).status_code == 421


def test_transport_security_settings() -> None:
    local = transport_security("127.0.0.1", "127.0.0.1", 8765)
    assert local.enable_dns_rebinding_protection
    assert local.allowed_hosts == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    wildcard = transport_security("0.0.0.0", "0.0.0.0", 8765)
    assert wildcard.enable_dns_rebinding_protection
    assert wildcard.allowed_hosts[:3] == ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    assert all(h.endswith(":8765") for h in wildcard.allowed_hosts[3:])
    lan = transport_security("10.0.0.5", "10.0.0.5", 8765, ["mcp.lan", "10.0.0.6:8765", "[fd00::1]"])
    assert lan.enable_dns_rebinding_protection
    assert lan.allowed_hosts == [
        "10.0.0.5:8765",
        "mcp.lan",
        "mcp.lan:*",
        "10.0.0.6:8765",
        "[fd00::1]",
        "[fd00::1]:*",
    ]
    assert "https://mcp.lan" in lan.allowed_origins
    assert "https://10.0.0.5:8765" not in lan.allowed_origins


# -- the serve command ----------------------------------------------------------------------------


def test_serve_settings_error_is_one_line_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        serve,
        ["--transport", "streamable-http", "--port", "99999"],
        env={"INFRAGUARDIAN_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: invalid setting INFRAGUARDIAN_MCP_PORT: Input should be less than or equal to 65535"
    ]


def test_serve_refuses_a_short_token_and_a_busy_port(tmp_path: Path, serve_http: Any) -> None:
    env = {"INFRAGUARDIAN_STATE_DIR": str(tmp_path), "INFRAGUARDIAN_MCP_TOKEN": "short"}
    result = CliRunner().invoke(serve, ["--transport", "sse", "--port", "0", "--no-detectors"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("error: INFRAGUARDIAN_MCP_TOKEN is shorter than 16")
    assert result.output.count("\n") == 1

    with serve_http("streamable-http") as http:
        busy = str(http.sock.getsockname()[1])
        env["INFRAGUARDIAN_MCP_TOKEN"] = TOKEN
        result = CliRunner().invoke(serve, ["--transport", "streamable-http", "--port", busy], env=env)
        assert result.exit_code == 2
        assert f"cannot listen on 127.0.0.1:{busy}" in result.output
