"""Serving the dashboard with uvicorn on the running event loop: inside `infraguardian-agent run`
beside the monitor, or alone (`infraguardian-agent dashboard`). The socket is bound first, so a
port in use is a one-line error before anything starts, and port 0 (tests) gets a free one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette

from mcp_server.server.http_exposure import in_host_header, is_loopback
from mcp_server.server.transports import TransportError, bind_socket, resolve_bind_address

log = logging.getLogger(__name__)


class DashboardServeError(RuntimeError):
    """The dashboard cannot listen where it was asked to; the message says what to change."""


def bind(host: str, port: int) -> socket.socket:
    try:
        return bind_socket(resolve_bind_address(host, port))
    except (TransportError, OSError) as exc:
        raise DashboardServeError(
            f"the dashboard cannot listen on {host}:{port}: {exc}; set INFRAGUARDIAN_AGENT__DASHBOARD__PORT "
            "(or --port) to a free port, or INFRAGUARDIAN_AGENT__DASHBOARD__ENABLED=false"
        ) from None


@contextlib.asynccontextmanager
async def serving_dashboard(app: Starlette, host: str, port: int) -> AsyncIterator[str]:
    """Serve `app` on host:port while the block runs; yields the base URL (http://host:port)."""
    sock = bind(host, port)
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,  # SSE streams stay open: do not wait for browsers to leave
        server_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="dashboard")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise DashboardServeError("the dashboard stopped while starting")
            await asyncio.sleep(0.02)
        url = f"http://{in_host_header(host)}:{bound}"
        if not is_loopback(host):
            log.warning("the dashboard listens on %s (not only this machine): keep it behind TLS", url)
        yield url
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        sock.close()
