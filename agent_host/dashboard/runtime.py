"""The dashboard wired to an agent's state: `run` serves it beside the monitor, `dashboard` serves
it alone over the same state store (and the same MCP server link for live health)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent_host.approvals import ApprovalBook
from agent_host.incidents.store import IncidentStore
from agent_host.server_link import ServerLink
from agent_host.settings import AgentSettings


@contextlib.asynccontextmanager
async def agent_dashboard(
    settings: AgentSettings,
    *,
    store: IncidentStore,
    approvals: ApprovalBook,
    link: ServerLink | None,
    graph: Any | None = None,
    mode: Callable[[], str] | None = None,
    host: str | None = None,
    port: int | None = None,
) -> AsyncIterator[str | None]:
    """Serve the dashboard while the block runs; yields a line saying where (None when disabled).
    Raises `DashboardServeError` / `DashboardTokenError` (one line each) when it cannot start."""
    if not settings.dashboard.enabled and host is None and port is None:
        yield None
        return
    from agent_host.dashboard.app import dashboard_app
    from agent_host.dashboard.auth import resolve_token
    from agent_host.dashboard.server import serving_dashboard
    from agent_host.dashboard.sources import DashboardSources

    token = resolve_token(settings)
    sources = DashboardSources(settings, store, approvals, link=link, graph=graph, mode=mode)
    app = dashboard_app(sources, token.token)
    bind_host = host or settings.dashboard.host
    bind_port = settings.dashboard.port if port is None else port
    async with serving_dashboard(app, bind_host, bind_port) as url:
        line = f"dashboard: {url} (log in with the token from {token.where})"
        yield line
