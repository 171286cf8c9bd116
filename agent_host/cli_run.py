"""`infraguardian-agent run` and `status`: the agent watching, and what it is doing."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import anyio
import click

from mcp_server.redaction import redact, redact_text

from .incidents.model import Incident
from .server_link import LinkError
from .settings import AgentSettings, AgentSettingsError, load_agent_settings


def _settings() -> AgentSettings:
    try:
        return load_agent_settings()
    except AgentSettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _printer(as_json: bool) -> Any:
    from .runner import incident_line

    def show(incident: Incident, step: str) -> None:
        line = incident_line(incident, step)
        if as_json:
            click.echo(json.dumps(redact(line), ensure_ascii=False))
        else:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            text = (
                f"{stamp} {line['incident']} {line['status']:17} {line['target']}  [{step}] {line['event']}"
            )
            click.echo(redact_text(text))

    return show


@click.command("run")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of text.")
@click.option(
    "--once", is_flag=True, help="Read the signals once, drive their incidents to a pause or end, exit."
)
def run(as_json: bool, once: bool) -> None:
    """Watch and act: read the server's signals, open one incident per root cause, diagnose with the
    runbooks, fix what is safe, ask for approval for the rest, verify, and record it all.

    Connects to INFRAGUARDIAN_AGENT__SERVER_URL (with its token) or starts a server over stdio.
    Stop it with Ctrl-C: nothing is lost, a restart resumes every unfinished incident."""
    from .runner import running_agent

    settings = _settings()
    say = _printer(as_json)

    async def main() -> None:
        async with running_agent(settings, listeners=[say]) as agent:
            announce = {
                "agent": "watching",
                "server": agent.link.describe(),
                "mode": agent.deps.mode_note(),
                "state": str(settings.state_dir),
                "checkpoints": "postgresql" if settings.database_url else str(settings.checkpoint_path),
            }
            click.echo(json.dumps(redact(announce)) if as_json else redact_text(
                f"InfraGuardian agent watching through {announce['server']} — {announce['mode']}; "
                f"state in {announce['state']}"
            ))  # fmt: skip
            if once:
                await agent.monitor.resume_unfinished_inline()
                for incident_id in await agent.monitor.handle_signals(await agent.link.active_signals()):
                    await agent.monitor.drive(incident_id)
                return
            await agent.monitor.run()

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        click.echo("stopped; unfinished incidents resume at the next start", err=True)
    except LinkError as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        sys.exit(1)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Mode (model or runbook-only), state, open incidents and pending approvals."""
    from .approvals import ApprovalBook
    from .incidents.store import IncidentStore

    settings = _settings()
    db = settings.open_database()
    try:
        open_incidents = anyio.run(IncidentStore(db).unfinished)
        pending = anyio.run(ApprovalBook(db).pending)
    finally:
        db.close()
    report: dict[str, Any] = {
        "mode": anyio.run(_current_mode, settings),
        "server": settings.server_url or "started by the agent over stdio",
        "state_dir": str(settings.state_dir),
        "database": "postgresql" if settings.database_url else str(settings.incident_path),
        "checkpoints": "postgresql" if settings.database_url else str(settings.checkpoint_path),
        "open_incidents": [{"id": i.id, "status": i.status, "target": i.target_key, "summary": i.summary} for i in open_incidents],
        "pending_approvals": [{"id": p.id, "title": p.title, "expires_at": p.expires_at.isoformat()} for p in pending],
    }  # fmt: skip
    if as_json:
        click.echo(json.dumps(redact(report), indent=2, ensure_ascii=False))
        return
    lines = [
        f"mode: {report['mode']}",
        f"server: {report['server']}",
        f"state: {report['state_dir']} (checkpoints: {report['checkpoints']})",
        f"open incidents: {len(open_incidents)}",
        *[f"  {i['id']} {i['status']} {i['target']}: {i['summary']}" for i in report["open_incidents"]],
        f"pending approvals: {len(pending)}",
        *[f"  {p['id']} {p['title']} (expires {p['expires_at']})" for p in report["pending_approvals"]],
    ]
    click.echo("\n".join(redact_text(line) for line in lines))


async def _current_mode(settings: AgentSettings) -> str:
    """runbook-only, or the model and whether it answers right now (one GET /api/tags)."""
    from .runner import mode_note

    if not settings.model.enabled:
        return mode_note(settings)
    from .model import ModelDecider

    decider = ModelDecider(settings.model)
    try:
        await decider.check()
        return decider.mode_note()
    finally:
        await decider.aclose()
