"""`infraguardian-mcp watch`: run the watcher of this Docker host alone, until stopped.

It takes the host's lease and runs the detectors, writing signals to the state store; if another
watcher holds the lease it stands by and takes over when that one stops or dies. Every MCP session
(`serve`, any transport) then reads the same signals. Logs go to stderr. SIGINT/SIGTERM stop it
cleanly (the lease is given up at once).
"""

from __future__ import annotations

import signal
import sys

import anyio
import click

from mcp_server.settings import SettingsError, load_settings

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.command("watch")
@click.option(
    "--lease-ttl-s",
    type=click.FloatRange(min=1.0, max=600.0),
    default=15.0,
    show_default=True,
    help="A watcher that stops renewing its lease (killed) is replaced after this long; it renews "
    "every third of it.",
)
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True, help="stderr log level."
)
def watch(lease_ttl_s: float, log_level: str) -> None:
    """Run the detectors of this Docker host and keep signals in the state store (long-running).

    One watcher per host holds a lease in the state store; a second one stands by. MCP sessions
    (`serve`) read the signals it writes.
    """
    try:
        settings = load_settings()
    except SettingsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)

    from mcp_server.server.hooks_listener import hooks_listener_in_thread
    from mcp_server.server.serve_cli import configure_logging
    from mcp_server.watcher.runner import LeaseTiming, Watcher
    from mcp_server.watcher.sqlite_store import SqliteSignalStore
    from mcp_server.watcher.store import SignalStoreError

    configure_logging(log_level)

    async def run() -> None:
        store = SqliteSignalStore.in_state_dir(settings.state_dir)
        try:
            # the webhooks (INFRAGUARDIAN_HOOKS__PORT) run in a thread: uvicorn in the main thread
            # would take SIGINT/SIGTERM from the receiver below
            with hooks_listener_in_thread(settings):
                async with anyio.create_task_group() as tg:
                    timing = LeaseTiming(ttl_s=lease_ttl_s, renew_every_s=lease_ttl_s / 3)
                    tg.start_soon(Watcher(settings, store, timing=timing).run)
                    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                        async for _ in signals:
                            tg.cancel_scope.cancel()
                            break
        finally:
            store.close()

    try:
        anyio.run(run)
    except SignalStoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
