"""`infraguardian-agent`: the agent host's command line.

The agent host's libraries (ollama, chromadb; LangGraph and python-telegram-bot next) live in the
`agent` extra, which the MCP server's install leaves out. The console script is installed either way,
so a command that needs the extra is wrapped in `needs_agent_extra` and stops with one line when the
extra is missing, instead of a traceback from a failed import.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from agent_host import __version__

# Import names of the `agent` extra in pyproject.toml (keep the two lists together).
AGENT_EXTRA_MODULES: tuple[str, ...] = (
    "ollama",
    "chromadb",
    "langgraph",
    "psycopg",
    "wordllama",
    "telegram",
    "jinja2",
)

P = ParamSpec("P")
R = TypeVar("R")


def missing_agent_extra() -> list[str]:
    """Import names of the `agent` extra that are not installed (an empty list when all are)."""
    return [name for name in AGENT_EXTRA_MODULES if importlib.util.find_spec(name) is None]


def require_agent_extra() -> None:
    """Stop with a one-line error when the `agent` extra is not installed."""
    missing = missing_agent_extra()
    if missing:
        raise click.ClickException(
            f"this command needs the agent extra, but {', '.join(missing)} is not installed: "
            "run `uv sync --extra agent`, `pip install 'infraguardian[agent]'`, "
            "or use the image built with `docker build --target agent`"
        )


def needs_agent_extra(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command's function so it checks for the `agent` extra before it runs."""

    @functools.wraps(command)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        require_agent_extra()
        return command(*args, **kwargs)

    return checked


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infraguardian-agent")
def main() -> None:
    """InfraGuardian agent host: monitor → diagnose → plan → execute → verify → learn.

    It is a separate process and an MCP client of `infraguardian-mcp`; it never touches Dokploy or
    Docker itself. Its commands need the `agent` extra (`uv sync --extra agent`); `--help` and
    `--version` do not.
    """
    configure_logging()


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test runner may swap it between commands)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging() -> None:
    """Our loggers at INFO on stderr, libraries at WARNING. Done first, because a library may call
    `logging.basicConfig(level=INFO)` when imported (wordllama does), which logged every HTTP request
    to the MCP server (every 2 s) once incident memory loaded it; once a handler is set, theirs is a
    no-op."""
    root = logging.getLogger()
    if not root.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    for name in ("agent_host", "infraguardian"):
        logging.getLogger(name).setLevel(logging.INFO)


def _register() -> None:
    from . import cli_incidents, cli_run

    main.add_command(cli_run.run)
    main.add_command(cli_run.status)
    cli_run.run.callback = needs_agent_extra(cli_run.run.callback)  # type: ignore[arg-type]
    from . import cli_dashboard

    main.add_command(cli_dashboard.dashboard)
    cli_dashboard.dashboard.callback = needs_agent_extra(cli_dashboard.dashboard.callback)  # type: ignore[arg-type]
    main.add_command(cli_incidents.graph)
    for command in (
        cli_incidents.incidents,
        cli_incidents.approvals,
        cli_incidents.approve,
        cli_incidents.deny,
    ):
        main.add_command(command)
    cli_incidents.graph.callback = needs_agent_extra(cli_incidents.graph.callback)  # type: ignore[arg-type]
    from . import cli_memory

    main.add_command(cli_memory.memory)
    for sub in cli_memory.memory.commands.values():
        sub.callback = needs_agent_extra(sub.callback)  # type: ignore[arg-type]
    from .lab import cli as cli_lab

    main.add_command(cli_lab.lab)
    cli_lab.run.callback = needs_agent_extra(cli_lab.run.callback)  # type: ignore[arg-type]


_register()
