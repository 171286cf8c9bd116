"""`infraguardian-agent run` and `status`: the agent watching, and what it is doing."""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

import anyio
import click

from mcp_server.redaction import redact, redact_text

from .approvals import ApprovalBook
from .console import make_printer
from .dashboard.auth import DashboardTokenError
from .dashboard.runtime import agent_dashboard
from .dashboard.server import DashboardServeError
from .server_link import LinkError
from .settings import AgentSettings, AgentSettingsError, load_agent_settings
from .watch_report import Reporter, liveness, read_report


def _settings() -> AgentSettings:
    try:
        return load_agent_settings()
    except AgentSettingsError as exc:
        raise click.ClickException(str(exc)) from None


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
    printer = make_printer(as_json, tty=sys.stdout.isatty())

    async def main() -> None:
        async with running_agent(settings, listeners=[printer.step]) as agent:
            reporter = Reporter(
                settings.state_dir, server=agent.link.describe(), mode=agent.describe_mode,
                read_resource=agent.link.read_resource, open_incidents=agent.deps.store.unfinished,
            )  # fmt: skip
            printer.watching(await reporter.refresh(), str(settings.state_dir))
            if once:
                await run_once(agent, reporter)
                return
            book = agent.deps.approvals or ApprovalBook(agent.deps.store.db)
            dashboard = agent_dashboard(
                settings, store=agent.deps.store, approvals=book, link=agent.link,
                graph=agent.graph, mode=agent.describe_mode,
            )  # fmt: skip
            async with dashboard as where, anyio.create_task_group() as tasks:
                if where:
                    click.echo(redact_text(where), err=True)
                tasks.start_soon(reporter.run)
                tasks.start_soon(stop_on_sigterm, tasks.cancel_scope)
                await agent.monitor.run()

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        click.echo("stopped; unfinished incidents resume at the next start", err=True)
    except (LinkError, DashboardServeError, DashboardTokenError) as exc:
        click.echo(f"error: {redact_text(str(exc))}", err=True)
        sys.exit(1)


async def stop_on_sigterm(scope: anyio.CancelScope) -> None:
    """SIGTERM (systemd, `docker stop`) stops the agent like Ctrl-C: the monitor is cancelled between
    steps, every incident is already checkpointed, and the next start resumes them."""
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            click.echo("SIGTERM: stopping; unfinished incidents resume at the next start", err=True)
            scope.cancel()
            return


async def run_once(agent: Any, reporter: Reporter) -> None:
    """`run --once`: resume what is unfinished, handle the signals there are now, and stop."""
    await agent.monitor.resume_unfinished_inline()
    for incident_id in await agent.monitor.handle_signals(await agent.link.active_signals()):
        await agent.monitor.drive(incident_id)
    await reporter.refresh()


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(as_json: bool) -> None:
    """Whether the agent runs, its mode (model or runbook-only), the server, what it watches (engines,
    stacks, services), open incidents and pending approvals."""
    from .approvals import ApprovalBook
    from .incidents.store import IncidentStore

    settings = _settings()
    db = settings.open_database()
    try:
        open_incidents = anyio.run(IncidentStore(db).unfinished)
        pending = anyio.run(ApprovalBook(db).pending)
    finally:
        db.close()
    watch = read_report(settings.state_dir)
    running, agent_line = liveness(watch)
    report: dict[str, Any] = {
        "agent": agent_line,
        "running": running,
        "mode": watch.mode if running and watch else anyio.run(_current_mode, settings),
        "server": watch.server if running and watch else settings.server_url or "started by the agent over stdio",
        "watched": [
            {"engine": e.engine, "swarm": e.swarm, "unmanaged_containers": e.unmanaged_containers,
             "collected_at": e.collected_at,
             "stacks": [{"app_name": s.app_name, "kind": s.kind, "services": s.services,
                         "running": f"{s.running}/{s.containers}"} for s in e.stacks]}
            for e in (watch.engines if watch else [])
        ],
        "watched_note": watch.inventory_note if watch else None,
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
        f"agent: {report['agent']}",
        f"mode: {report['mode']}",
        f"server: {report['server']}",
        *_watched_lines(report, watch is not None and not running),
        f"state: {report['state_dir']} (checkpoints: {report['checkpoints']})",
        f"open incidents: {len(open_incidents)}",
        *[f"  {i['id']} {i['status']} {i['target']}: {i['summary']}" for i in report["open_incidents"]],
        f"pending approvals: {len(pending)}",
        *[f"  {p['id']} {p['title']} (expires {p['expires_at']})" for p in report["pending_approvals"]],
    ]
    click.echo("\n".join(redact_text(line) for line in lines))


def _watched_lines(report: dict[str, Any], stale: bool) -> list[str]:
    """Engines with their stacks and services (as of the agent's last look when it is not running)."""
    when = " (as last seen)" if stale else ""
    lines = []
    for engine in report["watched"]:
        services = sum(len(s["services"]) for s in engine["stacks"])
        lines.append(
            f"watching{when}: {engine['engine']}: {len(engine['stacks'])} stacks, {services} services"
        )
        lines += [
            f"  {s['app_name']} ({s['kind']}, {s['running']} running): {', '.join(s['services'])}"
            for s in engine["stacks"]
        ]
    if report["watched_note"]:
        lines.append(f"  ({report['watched_note']})")
    return lines or ["watching: nothing known yet (start the agent: infraguardian-agent run)"]


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
