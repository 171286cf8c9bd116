"""Serve the MCP server over stdio, SSE or streamable HTTP.

stdio is the default: the client (Claude Desktop, Cursor, the agent host) starts the server as a
child process, so the parent process is the security boundary and there is no auth layer.

The HTTP transports are reachable by anything that can open a socket to them, so:
- every request needs `Authorization: Bearer <token>` (except `GET /healthz`, which says only "ok",
  and the webhooks under `/hooks/`, which check their own credentials: `hooks/routes.py`);
  the token is `mcp_token` from the settings or, when unset, one generated once into
  `<state_dir>/mcp-token` (mode 0600). The token itself is never logged, only where it is.
- the Host/Origin checks (DNS-rebinding protection) are always on, whatever the bind address
  (`http_exposure.py` says which names pass); other names are allowed with `mcp_allowed_hosts`.
- the server binds 127.0.0.1 unless told otherwise, and refuses a non-loopback address unless the
  settings say a TLS proxy is in front or plain HTTP is wanted (it does not terminate TLS itself).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_server.asgi_json import send_json
from mcp_server.hooks.routes import HOOKS_PREFIX, HooksApp, build_hooks_app
from mcp_server.server.http_exposure import (
    header_refusal,
    in_host_header,
    log_exposure,
    plain_http_refusal,
    transport_security,
)
from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.transport")

HttpTransport = Literal["sse", "streamable-http"]

TOKEN_FILE_NAME = "mcp-token"  # noqa: S105 - a file name, not a secret
MIN_TOKEN_LENGTH = 16
HEALTH_PATH = "/healthz"
STREAMABLE_HTTP_PATH = "/mcp"
SSE_PATH = "/sse"
SSE_MESSAGE_PATH = "/messages/"


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


# -- ASGI: /healthz, Host/Origin checks and bearer auth around the SDK's app ------------------------


class GuardedApp:
    """ASGI wrapper around the SDK app. `GET /healthz` answers `{"status": "ok"}` to anyone (it holds
    no data). Every other HTTP request, on any path, needs an allowed Host (else 421) and Origin
    (else 403), then `Authorization: Bearer <token>` (else 401). The SDK checks Host/Origin on its
    own routes too; checking here keeps every path covered whatever the SDK does. Lifespan events
    pass through (the streamable-HTTP session manager starts in the wrapped app's lifespan).
    `hooks`: the webhook app for `/hooks/...` paths; they pass the Host/Origin checks but not the
    bearer check here, because webhook senders use their own credentials (`hooks/routes.py`)."""

    def __init__(
        self, app: ASGIApp, token: str, security: TransportSecuritySettings, hooks: ASGIApp | None = None
    ) -> None:
        self.app = app
        self.security = security
        self.hooks = hooks
        self._expected = _digest(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            await send_json(send, 200, {"status": "ok"})
            return
        refused = header_refusal(self.security, _header(scope, b"host"), _header(scope, b"origin"))
        if refused is not None:
            status, reason = refused
            _log_refusal(scope, reason)
            error = "misdirected_request" if status == 421 else "forbidden_origin"
            await send_json(send, status, {"error": error, "error_description": reason})
            return
        if self.hooks is not None and scope["path"].startswith(HOOKS_PREFIX):
            await self.hooks(scope, receive, send)
            return
        problem = self._check(scope)
        if problem is not None:
            _log_refusal(scope, problem)
            challenge = 'Bearer realm="infraguardian"'
            if problem != "no bearer token":
                challenge += ', error="invalid_token"'
            await send_json(
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


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower-case bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _log_refusal(scope: Scope, reason: str) -> None:
    client = scope.get("client")
    log.warning(
        "refused %s %s from %s: %s", scope["method"], scope["path"], client[0] if client else "?", reason
    )


def build_http_app(
    mcp: MCPServer,
    transport: HttpTransport,
    *,
    token: str,
    security: TransportSecuritySettings,
    hooks: ASGIApp | None = None,
) -> ASGIApp:
    """The SDK's Starlette app for `transport`, behind the Host/Origin checks and bearer auth,
    with /healthz (and the webhook app `hooks` under /hooks/). Call once per MCPServer: the
    streamable-HTTP session manager can run only once."""
    if transport == "streamable-http":
        inner: ASGIApp = mcp.streamable_http_app(
            streamable_http_path=STREAMABLE_HTTP_PATH, transport_security=security
        )
    else:
        inner = mcp.sse_app(sse_path=SSE_PATH, message_path=SSE_MESSAGE_PATH, transport_security=security)
    return GuardedApp(inner, token, security, hooks)


# -- serving ---------------------------------------------------------------------------------------


@dataclass
class HttpServer:
    """A bound, not yet serving HTTP server. `url` is the MCP endpoint clients connect to."""

    server: uvicorn.Server
    sock: socket.socket
    url: str
    token: BearerToken
    hooks: HooksApp | None = None  # closed (its inbox and audit log) when serving stops

    async def serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            self._close_hooks()

    def run(self) -> None:
        """Serve until stopped (blocking; usable from a thread)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self._close_hooks()

    def _close_hooks(self) -> None:
        if self.hooks is not None:
            self.hooks.close()

    def stop(self) -> None:
        self.server.should_exit = True


@dataclass(frozen=True)
class BindTarget:
    """Where `--host`/`--port` resolve to: the first address getaddrinfo gives, used for both the
    plain-HTTP rule and the bind (one resolution, so the check and the socket cannot disagree)."""

    host: str
    port: int
    family: socket.AddressFamily
    kind: socket.SocketKind
    proto: int
    address: tuple[str, int] | tuple[str, int, int, int]

    @property
    def ip(self) -> str:
        return self.address[0]


def resolve_bind_address(host: str, port: int) -> BindTarget:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise TransportError(f"cannot resolve --host {host!r}: {exc.strerror}") from None
    return BindTarget(host, port, family, kind, proto, address)  # type: ignore[arg-type]


def bind_socket(target: BindTarget) -> socket.socket:
    """A listening-ready TCP socket on the target (port 0 = any free port)."""
    sock = socket.socket(target.family, target.kind, target.proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(target.address)
    except OSError as exc:
        sock.close()
        raise TransportError(
            f"cannot listen on {target.host}:{target.port}: {exc.strerror or exc}; "
            "choose another --port or --host"
        ) from None
    return sock


def endpoint_url(transport: HttpTransport, host: str, port: int) -> str:
    path = STREAMABLE_HTTP_PATH if transport == "streamable-http" else SSE_PATH
    return f"http://{in_host_header(host)}:{port}{path}"


@dataclass
class BoundListener:
    """A socket bound where the settings allow, with the bearer token and the Host/Origin rules."""

    target: BindTarget
    sock: socket.socket
    token: BearerToken
    security: TransportSecuritySettings
    port: int


def bind_checked(settings: Settings, port: int) -> BoundListener:
    """Resolve `settings.mcp_host:port`, refuse a non-loopback address without
    `mcp_behind_tls_proxy` or `mcp_insecure_plain_http` (TransportError, one line), load the token,
    bind, and derive the accepted Host/Origin names for the bound port."""
    target = resolve_bind_address(settings.mcp_host, port)
    refusal = plain_http_refusal(
        target.host,
        target.ip,
        target.port,
        behind_tls_proxy=settings.mcp_behind_tls_proxy,
        insecure_plain_http=settings.mcp_insecure_plain_http,
    )
    if refusal is not None:
        raise TransportError(refusal)
    token = load_or_create_token(settings)
    sock = bind_socket(target)
    bound_port = int(sock.getsockname()[1])
    security = transport_security(
        target.host, target.ip, bound_port, settings.mcp_allowed_hosts, settings.mcp_allowed_origins
    )
    return BoundListener(target, sock, token, security, bound_port)


def prepare_http(mcp: MCPServer, settings: Settings, transport: HttpTransport) -> HttpServer:
    """Check the bind address, load the token, bind `settings.mcp_host:mcp_port`, build the
    guarded app. Raises TransportError (one line) for a non-loopback address without
    `mcp_behind_tls_proxy` or `mcp_insecure_plain_http`.

    Logs (stderr) where the token is, the endpoint, the accepted Host names, and warnings for a
    non-loopback bind."""
    bound = bind_checked(settings, settings.mcp_port)
    token = bound.token
    try:
        hooks = build_hooks_app(settings, mcp_token=token.value) if settings.hooks.enabled else None
        app = build_http_app(mcp, transport, token=token.value, security=bound.security, hooks=hooks)
    except BaseException:
        bound.sock.close()
        raise
    config = uvicorn.Config(
        app,
        log_config=None,  # uvicorn's loggers propagate to ours (stderr); its default sends access logs to stdout
        log_level="warning",
        lifespan="on" if transport == "streamable-http" else "off",
        timeout_graceful_shutdown=3,  # SSE streams stay open forever; do not hang on Ctrl-C
        server_header=False,
    )
    url = endpoint_url(transport, bound.target.host, bound.port)
    log.info("serving MCP (%s) on %s; bearer token: %s", transport, url, token.source)
    log_exposure(
        bound.target.host,
        bound.target.ip,
        bound.security,
        allowed_hosts=settings.mcp_allowed_hosts,
        behind_tls_proxy=settings.mcp_behind_tls_proxy,
        path=STREAMABLE_HTTP_PATH if transport == "streamable-http" else SSE_PATH,
    )
    if hooks is not None:
        base = url.rsplit("/", 1)[0]
        log.info("webhooks: %s/hooks/alertmanager and %s/hooks/uptime-kuma", base, base)
    return HttpServer(server=uvicorn.Server(config), sock=bound.sock, url=url, token=token, hooks=hooks)


def serve(mcp: MCPServer, settings: Settings, transport: Literal["stdio", "sse", "streamable-http"]) -> None:
    """Serve `mcp` over `transport` until the client disconnects (stdio) or the process is stopped."""
    ensure_state_dir(settings)
    if transport == "stdio":
        from mcp_server.server.hooks_listener import hooks_listener_in_thread  # it imports this module

        with hooks_listener_in_thread(settings):
            _run_stdio(mcp)
        return
    http = prepare_http(mcp, settings, transport)
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
