"""What the Ollama and Telegram stand-ins' commands share: the error for a port they cannot listen on,
and serving until Ctrl-C."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .background import BackgroundServer


def cannot_listen(host: str, port: int, error: OSError) -> click.ClickException:
    """The one-line error for a failed bind (port taken, address not on this machine)."""
    return click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}")


def serve_until_interrupted(server: BackgroundServer) -> None:
    """Serve in this thread until Ctrl-C or SIGTERM, then return."""
    # uvicorn re-raises the SIGINT it handled once it has shut down
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
