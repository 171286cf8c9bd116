"""`infraguardian-standin` (or `python -m standins.dokploy`): run a local Dokploy v0.30.2 stand-in until Ctrl-C.

It is a command of its own, not a sub-command of `infraguardian-mcp`: the product never imports
the stand-in. Stopping it leaves deployed compose projects and swarm services running (like stopping Dokploy).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from pathlib import Path

import click

from mcp_server.dokploy.openapi import OpenApiDocumentError

from .world import DEFAULT_OPENAPI_PATH


def _default_base_dir() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state_home) / "dokploy-standin"


@click.command("infraguardian-standin")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=3000, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port."
)
@click.option(
    "--api-key",
    envvar=["DOKPLOY_STANDIN_API_KEY", "DOKPLOY_API_KEY"],
    default=None,
    help="Key clients send as x-api-key (env DOKPLOY_STANDIN_API_KEY or DOKPLOY_API_KEY); "
    "generated and printed when omitted.",
)
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where compose files and deployment logs go (Dokploy's /etc/dokploy). "
    "Default: $XDG_STATE_HOME/dokploy-standin.",
)
@click.option(
    "--openapi",
    "openapi_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_OPENAPI_PATH,
    show_default="$DOKPLOY_STANDIN_OPENAPI, else shared/dokploy/openapi.json beside the checkout",
    help="Dokploy's OpenAPI document (openapi.json) for the version imitated.",
)
def standin(host: str, port: int, api_key: str | None, base_dir: Path | None, openapi_path: Path) -> None:
    """Serve a local stand-in for Dokploy v0.30.2 on the real Docker engine."""
    from .server import StandIn  # imported here so `--help` stays fast

    generated = api_key is None
    key = api_key or secrets.token_urlsafe(32)
    base = base_dir or _default_base_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
        server = StandIn(
            api_key=key, base_dir=base, openapi_path=openapi_path, host=host, port=port, handle_signals=True
        )
    except OpenApiDocumentError as exc:
        raise click.ClickException(str(exc)) from exc
    except FileNotFoundError as exc:
        raise click.ClickException(
            f"OpenAPI document not found: {openapi_path} (use --openapi FILE)"
        ) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    click.echo(
        f"Dokploy stand-in {server.world.config.version} listening on {server.url} (API: {server.url}/api)"
    )
    click.echo(f"files and logs in {base}")
    if generated:
        click.echo(f"x-api-key: {key}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve_forever())
    click.echo("Dokploy stand-in stopped (deployed projects keep running)")


def main() -> None:  # pragma: no cover - console entry point
    standin()


if __name__ == "__main__":  # pragma: no cover
    main()
