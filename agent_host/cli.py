"""`infraguardian-agent`: the agent host's command line."""

from __future__ import annotations

import click

from agent_host import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="infraguardian-agent")
def main() -> None:
    """InfraGuardian agent host: monitor → diagnose → plan → execute → verify → learn.

    It is a separate process and an MCP client of `infraguardian-mcp`; it never touches Dokploy or
    Docker itself. The incident loop arrives with the agent-host milestone (see ROADMAP).
    """
