"""What `infraguardian-agent run` prints: what it watches, then each incident as it moves.

Three forms, one content: rich (colours and a table of watched stacks) when stdout is a terminal,
plain lines when it is not (a log file, `docker logs`), JSON lines with `--json` (for machines).
Everything is redacted before it is printed; text from containers may appear in an incident's last
event and is only ever printed, never interpreted.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

import click

from mcp_server.redaction import redact, redact_text

from .incidents.model import Incident
from .watch_report import WatchReport

STATUS_STYLE = {
    "open": "yellow",
    "awaiting_approval": "bold magenta",
    "acting": "cyan",
    "verifying": "cyan",
    "resolved": "bold green",
    "escalated": "bold red",
    "merged": "dim",
}


def incident_line(incident: Incident, step: str) -> dict[str, Any]:
    """What `run` prints for one step of one incident (a JSON line with --json)."""
    last = incident.events[-1].message if incident.events else ""
    return {
        "incident": incident.id,
        "step": step,
        "status": incident.status,
        "severity": incident.severity,
        "target": incident.target_key,
        "event": last,
    }


def watching_summary(report: WatchReport) -> dict[str, Any]:
    """The announcement: server, mode, and how much is watched."""
    return {
        "agent": "watching",
        "server": report.server,
        "mode": report.mode,
        "engines": [
            {
                "engine": e.engine,
                "stacks": len(e.stacks),
                "services": e.services,
                "unmanaged_containers": e.unmanaged_containers,
            }
            for e in report.engines
        ],
        "note": report.inventory_note,
    }


class Printer(Protocol):
    def watching(self, report: WatchReport, state: str) -> None: ...
    def step(self, incident: Incident, step: str) -> None: ...


class JsonPrinter:
    def watching(self, report: WatchReport, state: str) -> None:
        click.echo(json.dumps(redact({**watching_summary(report), "state": state}), ensure_ascii=False))

    def step(self, incident: Incident, step: str) -> None:
        click.echo(json.dumps(redact(incident_line(incident, step)), ensure_ascii=False))


class PlainPrinter:
    def watching(self, report: WatchReport, state: str) -> None:
        click.echo(redact_text(f"InfraGuardian agent watching through {report.server} — {report.mode}"))
        for engine in report.engines:
            click.echo(redact_text(
                f"  {engine.engine}: {len(engine.stacks)} stacks, {engine.services} services"
                f"{', swarm' if engine.swarm else ''}, {engine.unmanaged_containers} unmanaged containers"
            ))  # fmt: skip
        if report.inventory_note:
            click.echo(redact_text(f"  ({report.inventory_note})"))
        click.echo(redact_text(f"  state in {state}"))

    def step(self, incident: Incident, step: str) -> None:
        line = incident_line(incident, step)
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        click.echo(redact_text(
            f"{stamp} {line['incident']} {line['status']:17} {line['target']}  [{step}] {line['event']}"
        ))  # fmt: skip


class RichPrinter:
    """Colours and a table; rich is only imported when a terminal asks for it."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False)

    def watching(self, report: WatchReport, state: str) -> None:
        from rich.table import Table
        from rich.text import Text

        head = Text()  # a style given to Text() itself would colour every appended part too
        head.append("InfraGuardian agent watching", style="bold")
        head.append(f" through {redact_text(report.server)}\n")
        runbook_only = report.mode.startswith("runbook-only")
        head.append(redact_text(report.mode), style="yellow" if runbook_only else "green")
        self.console.print(head)
        for engine in report.engines:
            table = Table(title=redact_text(engine.engine), title_justify="left", box=None, pad_edge=False)
            for column in ("stack", "kind", "services", "running"):
                table.add_column(column)
            for stack in engine.stacks:
                health = f"{stack.running}/{stack.containers}"
                style = "red" if stack.running < stack.containers or stack.unhealthy else "green"
                table.add_row(
                    Text(redact_text(stack.app_name)),
                    stack.kind,
                    Text(redact_text(", ".join(stack.services))),
                    Text(
                        health + (f" ({stack.unhealthy} unhealthy)" if stack.unhealthy else ""), style=style
                    ),
                )
            self.console.print(table)
        if report.inventory_note:
            self.console.print(Text(redact_text(report.inventory_note), style="yellow"))
        self.console.print(Text(f"state in {redact_text(state)}", style="dim"))

    def step(self, incident: Incident, step: str) -> None:
        from rich.text import Text

        line = incident_line(incident, step)
        text = Text()
        text.append(datetime.now(UTC).strftime("%H:%M:%S "), style="dim")
        text.append(f"{line['incident']} ", style="bold")
        text.append(f"{line['status']:17} ", style=STATUS_STYLE.get(incident.status, ""))
        text.append(redact_text(str(line["target"])))
        text.append(f"  [{step}] ", style="dim")
        text.append(redact_text(str(line["event"])))  # untrusted text: a Text, never markup
        self.console.print(text)


def make_printer(as_json: bool, tty: bool) -> Printer:
    if as_json:
        return JsonPrinter()
    return RichPrinter() if tty else PlainPrinter()
