"""`infraguardian-agent dashboard`: the web dashboard alone, over the agent's state store.

It shows what a running agent (another process, maybe another machine sharing the PostgreSQL state)
does: incidents, approvals, where each open incident stands. For live health it connects to the MCP
server like `run` does (INFRAGUARDIAN_AGENT__SERVER_URL, else a server started over stdio)."""

from __future__ import annotations

import sys

import anyio
import click

from mcp_server.redaction import redact_text

from .cli_run import _settings
from .dashboard.auth import DashboardTokenError
from .dashboard.server import DashboardServeError
from .server_link import LinkError


@click.command("dashboard")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8766; 0 = any free one)."
)
@click.option(
    "--host", default=None, help="Address to bind (default 127.0.0.1; the token is always required)."
)
def dashboard(port: int | None, host: str | None) -> None:
    """Serve the dashboard alone (the agent's `run` serves it too): health of every stack, the
    incident timeline, the agent's graph and budgets, and approvals you can answer there.
    Log in with the token the first line names. Stop it with Ctrl-C."""
    from .approvals import ApprovalBook
    from .dashboard.runtime import agent_dashboard
    from .incidents.store import IncidentStore
    from .loop.graph import build_graph
    from .runner import checkpointer
    from .server_link import ServerLink

    settings = _settings()

    async def main() -> None:
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        db = settings.open_database()
        try:
            store, book = IncidentStore(db), ApprovalBook(db)
            async with ServerLink(settings.link_settings()) as link, checkpointer(settings) as saver:
                graph = build_graph(None).compile(checkpointer=saver)  # reads checkpoints, runs nothing
                served = agent_dashboard(
                    settings, store=store, approvals=book, link=link, graph=graph, host=host,
                    port=settings.dashboard.port if port is None else port,
                )  # fmt: skip
                async with served as where:
                    click.echo(redact_text(str(where)), err=True)
                    await anyio.sleep_forever()
        finally:
            db.close()

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        click.echo("dashboard stopped", err=True)
    except (LinkError, DashboardServeError, DashboardTokenError) as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        sys.exit(1)
