"""Serve the MCP server over stdio, SSE or streamable HTTP.

stdio is the default: the client (Claude Desktop, Cursor, the agent host) starts the server as a
child process, so the parent process is the security boundary and there is no auth layer.

The HTTP transports are reachable by anything that can open a socket to them, so:
- every request needs `Authorization: Bearer <token>` (except `GET /healthz`, which says only "ok");
  the token is `mcp_token` from the settings or, when unset, one generated once into
  `<state_dir>/mcp-token` (mode 0600). The token itself is never logged, only where it is.
- the server binds 127.0.0.1 unless told otherwise, and keeps the SDK's DNS-rebinding protection
  (Host/Origin checks) on for localhost; other names can be allowed with `allowed_hosts`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.transport")

HttpTransport = Literal["sse", "streamable-http"]

TOKEN_FILE_NAME = "mcp-token"  # noqa: S105 - a file name, not a secret
MIN_TOKEN_LENGTH = 16
HEALTH_PATH = "/healthz"
STREAMABLE_HTTP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGE_PATH = "/messages/"
LOCALHOST_NAMES = ("127.0.0.1", "localhost", "::1")
# What the SDK allows by default for a localhost bind; we keep exactly that and only add names.
LOCALHOST_HOST_PATTERNS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
_PORT_SUFFIX = re.compile(r":(\d+|\*)$")


class TransportError(Exception):
    """The server cannot be served as configured; the message is one actionable line."""


class ServerStopped(TransportError):
    """The server started but stopped on an error (one line; the traceback is logged at DEBUG)."""


# -- the bearer token -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BearerToken:
    """The shared secret HTTP clients must send. `source` says where it came from (safe to log)."""

    value: str = field(repr=False)
    source: str


def token_file(settings: Settings) -> Path:
    return Path(settings.state_dir) / TOKEN_FILE_NAME


def load_or_create_token(settings: Settings) -> BearerToken:
    """The configured token, else the one in `<state_dir>/mcp-token`, created (0600) if missing.

    Raises TransportError for a token that is too short, an empty token file, or a token file
    other users can read (as ssh does for private keys: fix the mode, do not guess)."""
    if settings.mcp_token is not None:
        value = settings.mcp_token.get_secret_value().strip()
        if len(value) < MIN_TOKEN_LENGTH:
            raise TransportError(
                f"INFRAGUARDIAN_MCP_TOKEN is shorter than {MIN_TOKEN_LENGTH} characters; "
                "use a long random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return BearerToken(value, "the setting INFRAGUARDIAN_MCP_TOKEN")
    path = token_file(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = _create_token_file(path)
    except OSError as exc:
        raise TransportError(f"cannot create the token file {path}: {exc.strerror or exc}") from None
    if created:
        log.info("generated a new bearer token for the HTTP transport in %s (mode 0600)", path)
    return _read_token_file(path)


def _create_token_file(path: Path) -> bool:
    """Write a fresh token to `path` unless it exists. O_EXCL: two servers starting together cannot
    both write, and the file is 0600 from its first byte (no chmod window)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_urlsafe(32) + "\n")
    return True


def _read_token_file(path: Path) -> BearerToken:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TransportError(
                f"the token file {path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
                f"run `chmod 600 {path}` or delete it to get a new token"
            )
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TransportError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
    if len(value) < MIN_TOKEN_LENGTH:
        raise TransportError(
            f"the token file {path} holds no usable token (under {MIN_TOKEN_LENGTH} characters); "
            "delete it and restart to generate one"
        )
    return BearerToken(value, str(path))


def _digest(value: str) -> bytes:
    # Comparing fixed-size digests keeps compare_digest constant-time even for different lengths.
    return hashlib.sha256(value.encode("utf-8")).digest()


# -- ASGI: /healthz + bearer auth around the SDK's app ---------------------------------------------


class BearerAuthApp:
    """ASGI wrapper around the SDK app: `GET /healthz` answers without auth; every other HTTP
    request needs `Authorization: Bearer <token>` or gets 401. Lifespan events pass through (the
    streamable-HTTP session manager starts in the wrapped app's lifespan)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = _digest(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            await _send_json(send, 200, {"status": "ok"})
            return
        problem = self._check(scope)
        if problem is not None:
            client = scope.get("client")
            log.warning(
                "refused %s %s from %s: %s",
                scope["method"],
                scope["path"],
                client[0] if client else "?",
                problem,
            )
            challenge = 'Bearer realm="infraguardian"'
            if problem != "no bearer token":
                challenge += ', error="invalid_token"'
            await _send_json(
                send,
                401,
                {
                    "error": "unauthorized",
                    "error_description": f"{problem}: send Authorization: Bearer <token>",
                },
                [(b"www-authenticate", challenge.encode())],
            )
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> str | None:
        """None when the request carries the right token, else why not (never echoes the token)."""
        values = [v for k, v in scope["headers"] if k == b"authorization"]
        if not values:
            return "no bearer token"
        if len(values) > 1:
            return "more than one Authorization header"
        scheme, _, presented = values[0].decode("latin-1").strip().partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return "no bearer token"
        if not hmac.compare_digest(_digest(presented.strip()), self._expected):
            return "wrong bearer token"
        return None


async def _send_json(
    send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# -- DNS-rebinding protection ----------------------------------------------------------------------


def is_localhost(host: str) -> bool:
    return host in LOCALHOST_NAMES


def host_patterns(allowed_hosts: Sequence[str]) -> list[str]:
    """Host header patterns for extra names; a name without a port also matches it with any port."""
    patterns: list[str] = []
    for raw in allowed_hosts:
        name = raw.strip()
        if not name:
            continue
        candidates = [name] if _PORT_SUFFIX.search(name) and not name.endswith("]") else [name, f"{name}:*"]
        patterns.extend(p for p in candidates if p not in patterns)
    return patterns


def transport_security(host: str, allowed_hosts: Sequence[str] = ()) -> TransportSecuritySettings:
    """Host/Origin checks: localhost names when bound to localhost, plus `allowed_hosts`.

    Bound elsewhere with no allowed hosts, the check is off (we cannot know the names clients use);
    the bearer token still protects every request, so a rebinding page cannot call tools."""
    extra = host_patterns(allowed_hosts)
    hosts = [*LOCALHOST_HOST_PATTERNS, *extra] if is_localhost(host) else extra
    if not hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in extra]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def build_http_app(
    mcp: MCPServer,
    transport: HttpTransport,
    *,
    token: str,
    host: str = "127.0.0.1",
    allowed_hosts: Sequence[str] = (),
) -> ASGIApp:
    """The SDK's Starlette app for `transport`, behind bearer auth, with /healthz.

    Call once per MCPServer: the streamable-HTTP session manager can run only once."""
    security = transport_security(host, allowed_hosts)
    if transport == "streamable-http":
        inner: ASGIApp = mcp.streamable_http_app(
            streamable_http_path=STREAMABLE_HTTP_PATH, transport_security=security, host=host
        )
    else:
        inner = mcp.sse_app(
            sse_path=SSE_PATH, message_path=SSE_MESSAGE_PATH, transport_security=security, host=host
        )
    return BearerAuthApp(inner, token)


# -- serving ---------------------------------------------------------------------------------------


@dataclass
class HttpServer:
    """A bound, not yet serving HTTP server. `url` is the MCP endpoint clients connect to."""

    server: uvicorn.Server
    sock: socket.socket
    url: str
    token: BearerToken

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def run(self) -> None:
        """Serve until stopped (blocking; usable from a thread)."""
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0 = any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise TransportError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise TransportError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host"
        ) from None
    return sock


def endpoint_url(transport: HttpTransport, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    path = STREAMABLE_HTTP_PATH if transport == "streamable-http" else SSE_PATH
    return f"http://{shown}:{port}{path}"


def prepare_http(
    mcp: MCPServer,
    settings: Settings,
    transport: HttpTransport,
    *,
    allowed_hosts: Sequence[str] = (),
) -> HttpServer:
    """Load the token, build the guarded app and bind `settings.mcp_host:mcp_port`.

    Logs (stderr) where the token is, the endpoint, and warnings for a non-localhost bind."""
    host, port = settings.mcp_host, settings.mcp_port
    token = load_or_create_token(settings)
    if not is_localhost(host):
        log.warning(
            "listening on %s, not localhost: the MCP server is reachable from other machines. Keep the "
            "token secret, put a TLS reverse proxy in front, and firewall the port",
            host,
        )
        if not allowed_hosts:
            log.warning(
                "DNS-rebinding protection is off (any Host header is accepted); name the host names "
                "clients use with --allowed-host or INFRAGUARDIAN_MCP_ALLOWED_HOSTS"
            )
    app = build_http_app(mcp, transport, token=token.value, host=host, allowed_hosts=allowed_hosts)
    sock = bind_socket(host, port)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_config=None,  # uvicorn's loggers propagate to ours (stderr); its default sends access logs to stdout
        log_level="warning",
        lifespan="on" if transport == "streamable-http" else "off",
        timeout_graceful_shutdown=3,  # SSE streams stay open forever; do not hang on Ctrl-C
        server_header=False,
    )
    url = endpoint_url(transport, host, bound_port)
    log.info("serving MCP (%s) on %s; bearer token: %s", transport, url, token.source)
    return HttpServer(server=uvicorn.Server(config), sock=sock, url=url, token=token)


def serve(
    mcp: MCPServer,
    settings: Settings,
    transport: Literal["stdio", "sse", "streamable-http"],
    *,
    allowed_hosts: Sequence[str] = (),
) -> None:
    """Serve `mcp` over `transport` until the client disconnects (stdio) or the process is stopped."""
    ensure_state_dir(settings)
    if transport == "stdio":
        _run_stdio(mcp)
        return
    http = prepare_http(mcp, settings, transport, allowed_hosts=allowed_hosts)
    try:
        http.run()
    finally:
        http.sock.close()


def ensure_state_dir(settings: Settings) -> None:
    """Fail early, in one line, when the state directory cannot be used (instead of a traceback
    from inside the server's start-up)."""
    state = Path(settings.state_dir)
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise TransportError(
            f"cannot create the state directory {state} (INFRAGUARDIAN_STATE_DIR): {exc.strerror or exc}"
        ) from None
    if not os.access(state, os.W_OK | os.X_OK):
        raise TransportError(f"the state directory {state} (INFRAGUARDIAN_STATE_DIR) is not writable")


def _run_stdio(mcp: MCPServer) -> None:
    try:
        # The SDK points fd 1 at stderr while serving, so stray prints cannot corrupt the protocol.
        anyio.run(mcp.run_stdio_async)
    except Exception as exc:
        leaf: BaseException = exc
        while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
            leaf = leaf.exceptions[0]
        log.debug("the stdio server stopped on an error", exc_info=exc)
        raise ServerStopped(
            f"the MCP server stopped: {type(leaf).__name__}: {leaf} (--log-level debug shows the traceback)"
        ) from None
