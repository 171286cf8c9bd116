"""`infraguardian-mcp serve`: run the MCP server over stdio (default), SSE or streamable HTTP.

Logs go to stderr only: over stdio, stdout is the protocol.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn

import click

from mcp_server.settings import SettingsError, load_settings

LOG_LEVELS = ("debug", "info", "warning", "error")


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def configure_logging(level: str) -> None:
    """One stderr handler on the root logger (before the SDK installs its own); libraries stay at
    WARNING unless asked for debug. A no-op for the handler when logging is already configured."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if level == "debug" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("infraguardian").setLevel(level.upper())


@click.command("serve")
@click.option(
    "--transport",
    type=click.Choice(["stdio", "sse", "streamable-http"]),
    default=None,
    help="How clients connect (default: INFRAGUARDIAN_MCP_TRANSPORT, else stdio).",
)
@click.option("--host", default=None, help="HTTP: address to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="HTTP: port (default 8765; 0 picks a free one).")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="HTTP: a Host name clients use besides the bound addresses, e.g. the TLS proxy's domain "
    "(repeatable; default: INFRAGUARDIAN_MCP_ALLOWED_HOSTS, comma-separated). Others get 421.",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="HTTP: a browser Origin allowed besides the allowed hosts, e.g. https://app.example.com "
    "(repeatable; default: INFRAGUARDIAN_MCP_ALLOWED_ORIGINS). Others get 403.",
)
@click.option(
    "--behind-tls-proxy",
    is_flag=True,
    help="HTTP: a TLS reverse proxy (e.g. Traefik) is in front; allows a non-loopback --host "
    "(env INFRAGUARDIAN_MCP_BEHIND_TLS_PROXY=true).",
)
@click.option(
    "--insecure-plain-http",
    is_flag=True,
    help="HTTP: allow a non-loopback --host without TLS, for a trusted private network only "
    "(env INFRAGUARDIAN_MCP_INSECURE_PLAIN_HTTP=true).",
)
@click.option("--no-detectors", is_flag=True, help="Do not run the background detectors.")
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS), default="info", show_default=True, help="stderr log level."
)
def serve(
    transport: str | None,
    host: str | None,
    port: int | None,
    allowed_hosts: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    behind_tls_proxy: bool,
    insecure_plain_http: bool,
    no_detectors: bool,
    log_level: str,
) -> None:
    """Run the MCP server (stdio by default; HTTP transports need a bearer token).

    HTTP: the token is INFRAGUARDIAN_MCP_TOKEN or, if unset, generated once into
    <state_dir>/mcp-token (mode 0600); clients send `Authorization: Bearer <token>`. Only the
    bound addresses and --allowed-host names pass the Host check; a non-loopback --host needs
    --behind-tls-proxy or --insecure-plain-http.
    """
    # Options given on the command line win over the environment; absent ones leave it alone.
    given: tuple[tuple[str, Any], ...] = (
        ("mcp_transport", transport),
        ("mcp_host", host),
        ("mcp_port", port),
        ("mcp_allowed_hosts", list(allowed_hosts) or None),
        ("mcp_allowed_origins", list(allowed_origins) or None),
        ("mcp_behind_tls_proxy", behind_tls_proxy or None),
        ("mcp_insecure_plain_http", insecure_plain_http or None),
    )
    overrides = {name: value for name, value in given if value is not None}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        _fail(str(exc), 2)

    configure_logging(log_level)
    # Imported here: `--help` and settings errors stay fast and free of server imports.
    from mcp_server.runbooks import RunbookError
    from mcp_server.server import build_server
    from mcp_server.server.transports import ServerStopped, TransportError
    from mcp_server.server.transports import serve as serve_transport

    try:
        mcp = build_server(settings, run_detectors=not no_detectors)
    except RunbookError as exc:
        _fail(f"invalid runbook in {settings.runbooks_dir or 'runbooks/'}: {exc}", 2)
    try:
        serve_transport(mcp, settings, settings.mcp_transport)
    except TransportError as exc:
        _fail(str(exc), 1 if isinstance(exc, ServerStopped) else 2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    serve()
