"""The webhooks alone, where no MCP HTTP listener runs: `serve` over stdio (how the agent spawns its
server by default) and `infraguardian-mcp watch`.

With `INFRAGUARDIAN_HOOKS__PORT` set, such a process also listens on `mcp_host:<port>` for
`/hooks/alertmanager` and `/hooks/uptime-kuma` only (plus `/healthz`); every other path answers 404.
The same rules as beside `/mcp` apply: localhost unless configured (a non-loopback address needs
`mcp_behind_tls_proxy` or `mcp_insecure_plain_http`), Host/Origin checks, the hooks' own credentials.

Several processes may be configured with the same port (the agent's stdio server and a `watch`):
the first one binds it, the others log that it is taken and go on without it. Nothing is lost: every
listener writes to the same alert inbox in the state directory, read by whichever process holds the
watcher lease.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator

import uvicorn
from starlette.types import Receive, Scope, Send

from mcp_server.asgi_json import send_json
from mcp_server.hooks.routes import build_hooks_app
from mcp_server.server.http_exposure import in_host_header
from mcp_server.server.transports import GuardedApp, HttpServer, TransportError, bind_checked
from mcp_server.settings import Settings

log = logging.getLogger("infraguardian.transport")


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Everything but the webhooks: this listener serves no MCP."""
    where = "this port serves only /hooks/alertmanager and /hooks/uptime-kuma"
    await send_json(send, 404, {"error": "not_found", "error_description": where})


def prepare_hooks_listener(settings: Settings) -> HttpServer:
    """Bind `mcp_host:hooks.port` and build the webhooks-only app. Raises TransportError (one line)
    when the address is refused (non-loopback without TLS proxy / plain-HTTP consent) or taken."""
    port = settings.hooks.port
    if port is None:
        raise TransportError("INFRAGUARDIAN_HOOKS__PORT is not set: no port to serve the webhooks on")
    bound = bind_checked(settings, port)
    try:
        hooks = build_hooks_app(settings, mcp_token=bound.token.value)
    except BaseException:
        bound.sock.close()
        raise
    config = uvicorn.Config(
        GuardedApp(_not_found, bound.token.value, bound.security, hooks),
        log_config=None,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    base = f"http://{in_host_header(bound.target.host)}:{bound.port}/hooks"
    log.info(
        "webhooks (this process serves no MCP over HTTP): %s/alertmanager and %s/uptime-kuma", base, base
    )
    return HttpServer(
        server=uvicorn.Server(config), sock=bound.sock, url=f"{base}/", token=bound.token, hooks=hooks
    )


@contextlib.contextmanager
def hooks_listener_in_thread(settings: Settings) -> Iterator[HttpServer | None]:
    """Serve the webhooks in a background thread while the block runs, when `hooks.port` is set and
    the hooks are enabled; yields None otherwise, or when the port cannot be used (logged: another
    process may already serve it)."""
    listener = optional_hooks_listener(settings)
    if listener is None:
        yield None
        return
    thread = threading.Thread(target=listener.run, name="infraguardian-hooks", daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        listener.stop()
        thread.join(timeout=10)
        listener.sock.close()


def optional_hooks_listener(settings: Settings) -> HttpServer | None:
    """The bound webhooks-only listener when `hooks.port` is set and the hooks are enabled, else
    None; None too (logged) when the port cannot be used. The caller runs `serve()` and `stop()`."""
    if settings.hooks.port is None or not settings.hooks.enabled:
        return None
    try:
        return prepare_hooks_listener(settings)
    except TransportError as exc:
        log.warning("webhooks not served by this process: %s", exc)
        return None
