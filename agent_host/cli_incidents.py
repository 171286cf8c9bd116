"""`infraguardian-agent incidents | approvals | approve | deny | graph`: the record and the approvals,
read from the agent's state directory (no server or model needed). Everything printed is redacted
again (the server redacts what it returns; this is the second lock)."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import anyio
import click

from mcp_server.redaction import redact, redact_text

from .approvals import ApprovalBook, ApprovalError
from .incidents.database import Database, DatabaseError
from .incidents.report import post_mortem
from .incidents.store import IncidentStore, incident_summary
from .settings import AgentSettings, AgentSettingsError, load_agent_settings


def _settings() -> AgentSettings:
    try:
        return load_agent_settings()
    except AgentSettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _database(settings: AgentSettings) -> Database:
    try:
        return settings.open_database()
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(redact(data), indent=2, ensure_ascii=False, default=str))


@click.command("graph")
def graph() -> None:
    """Print the incident loop's graph (Mermaid)."""
    from .loop.graph import mermaid

    click.echo(mermaid())


@click.command("incidents")
@click.argument("action", required=False, type=click.Choice(["show"]))
@click.argument("incident_id", required=False)
@click.option("-n", "limit", default=20, show_default=True, help="How many of the newest to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def incidents(action: str | None, incident_id: str | None, limit: int, as_json: bool) -> None:
    """List incidents, or `show ID` for a post-mortem: signals, facts, decision and its reasons,
    approvals, actions, verification and outcome."""
    settings = _settings()
    if action == "show" and not incident_id:
        raise click.UsageError("incidents show needs an incident id (see `infraguardian-agent incidents`)")
    db = _database(settings)
    store = IncidentStore(db)
    try:
        if action == "show" and incident_id:
            found = anyio.run(store.get, incident_id)
            if found is None:
                raise click.ClickException(
                    f"no incident {incident_id!r}; list them with `infraguardian-agent incidents`"
                )
            if as_json:
                _echo_json(found.model_dump(mode="json"))
            else:
                click.echo(post_mortem(found))
            return
        rows = anyio.run(store.recent, limit)
    finally:
        db.close()
    if as_json:
        _echo_json([incident_summary(i) for i in rows])
        return
    if not rows:
        click.echo("no incidents yet")
    for incident in rows:
        line = f"{incident.id}  {incident.status:17} {incident.kind:16} {incident.target_key}  {incident.summary}"
        click.echo(redact_text(line))


@click.command("approvals")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def approvals(as_json: bool) -> None:
    """Pending approval requests: the exact change, the blast radius and why."""
    db = _database(_settings())
    try:
        pending = anyio.run(ApprovalBook(db).pending)
    finally:
        db.close()
    if as_json:
        _echo_json([p.model_dump(mode="json") for p in pending])
        return
    if not pending:
        click.echo("no pending approvals")
    for request in pending:
        click.echo(redact_text(f"{request.id}  {request.title}  (expires {request.expires_at:%H:%M:%S} UTC)"))
        for change in request.changes:
            click.echo(redact_text(f"    change: {change}"))
        if request.blast_radius:
            click.echo(redact_text(f"    blast radius: {', '.join(request.blast_radius)}"))


def _answer(request_id: str, approve: bool, note: str | None) -> None:
    db = _database(_settings())
    who = f"cli:{getpass.getuser()}"
    try:
        answered = anyio.run(ApprovalBook(db).answer, request_id, approve, who, note)
    except ApprovalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        db.close()
    from .loop.human_steps import HUMAN_CHANGE

    if not approve:
        after = "nothing is changed; the incident is escalated"
    elif all(c.startswith(HUMAN_CHANGE) for c in answered.changes):
        after = "the change is yours to make now; the running agent then checks that it helped"
    else:
        after = "the running agent applies exactly the change it showed, within seconds"
    click.echo(f"{answered.status}: {answered.title} ({after})")


@click.command("approve")
@click.argument("request_id")
@click.option("--note", help="Why (kept in the incident).")
def approve(request_id: str, note: str | None) -> None:
    """Approve a pending request: the agent applies exactly the change it showed (or, for a step
    only a person can take, such as growing a volume, hands it to you and then verifies)."""
    _answer(request_id, True, note)


@click.command("deny")
@click.argument("request_id")
@click.option("--note", help="Why (kept in the incident).")
def deny(request_id: str, note: str | None) -> None:
    """Deny a pending request: nothing is changed and the incident is escalated."""
    _answer(request_id, False, note)
