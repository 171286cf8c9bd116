"""The read commands: /status, /services, /logs, /health, /metrics, /incidents. They call the MCP
server's read-only tools (list_inventory, compose_health, read_logs, container_stats) and the
agent's incident store; nothing here changes anything."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from telegram import Update

from agent_host.telegram.commands._common import (
    CommandProblem,
    call,
    compose_named,
    human_bytes,
    inventory,
    service_named,
    unfenced,
)
from agent_host.telegram.render import html as esc
from agent_host.telegram.resolve import word_score, words_of

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext

DEFAULT_LOG_LINES = 30
MAX_LOG_LINES = 300
DEFAULT_INCIDENTS = 5
MAX_INCIDENTS = 20
# the engine's raw line prefix "2026-12-04T00:18:28.704197+00:00 stdout " → "00:18:28 " on a phone
_RAW_PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)\S* (?:stdout|stderr) ", re.M)


def _entry_line(entry: dict[str, Any]) -> str:
    services = entry.get("services") or []
    running = sum(int(s.get("running") or 0) for s in services)
    containers = sum(int(s.get("containers") or 0) for s in services)
    problems = [p for s in services for p in s.get("problems") or []]
    mark = "✅" if not problems and running == containers else "⚠️"
    where = " / ".join(esc(x) for x in (entry.get("project"), entry.get("environment")) if x)
    head = f"{mark} <b>{esc(entry['app_name'])}</b>"
    if where:
        head += f" ({where})"
    head += f": {running}/{containers} running"
    if entry.get("dokploy_status"):
        head += f", Dokploy {esc(entry['dokploy_status'])}"
    lines = [head] + [f"   • {esc(p)}" for p in problems[:5]]
    return "\n".join(lines)


async def status(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/status [project]: every stack (or those of one project) with running containers and problems."""
    found = await inventory(ctx)
    entries = [e for e in found.get("entries") or [] if e.get("kind") != "dokploy_system"]
    if args:
        words = words_of(args)

        def names(e: dict[str, Any]) -> list[str]:
            return [str(n).lower() for n in (e.get("app_name"), e.get("dokploy_name"), e.get("project")) if n]

        entries = [e for e in entries if all(word_score(w, names(e)) > 0 for w in words)]
        if not entries:
            raise CommandProblem(f"no project or stack matches '{' '.join(args)}'; /status lists them all")
    title = f"<b>Status</b> on {esc(found.get('host', 'local'))}"
    if not found.get("dokploy_connected"):
        title += " (Dokploy not connected)"
    body = [_entry_line(e) for e in entries] or ["no stacks on this host"]
    if not args and found.get("not_running"):
        body.append("Not running: " + esc(", ".join(found["not_running"])))
    return "\n".join([title, *body])


async def services(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/services [compose]: the services of one stack with their verdicts, or of every stack."""
    if args:
        compose = await compose_named(ctx, args, mutation=False)
        return await _health_text(ctx, compose.app_name)
    found = await inventory(ctx)
    lines = ["<b>Services</b> (app/service: running/containers)"]
    for entry in found.get("entries") or []:
        for s in entry.get("services") or []:
            flag = " ⚠️" if s.get("problems") else ""
            lines.append(
                f"• <code>{esc(entry['app_name'])}/{esc(s['name'])}</code>: {s['running']}/{s['containers']}{flag}"
            )
    if len(lines) == 1:
        lines.append("no services on this host")
    return "\n".join(lines)


async def _health_text(ctx: BotContext, app_name: str) -> str:
    report = await call(ctx, "compose_health", {"app_name": app_name})
    lines = [f"<b>{esc(report['app_name'])}</b>: {esc(report['verdict'])}"]
    if report.get("dokploy_status"):
        lines[0] += f" (Dokploy {esc(report['dokploy_status'])})"
    for s in report.get("services") or []:
        mark = {"ok": "✅", "degraded": "⚠️"}.get(s["verdict"], "❌")
        lines.append(f"{mark} <b>{esc(s['service'])}</b>: {esc(s['verdict'])}")
        for c in s.get("containers") or []:
            detail = esc(c["status"])
            if c.get("health"):
                detail += f", {esc(c['health'])}"
            if c.get("restarts"):
                detail += f", {c['restarts']} restarts"
            if c.get("exit_meaning"):
                detail += f", exit {c.get('exit_code')}: {esc(c['exit_meaning'])}"
            lines.append(f"   • {esc(c['name'])}: {detail}")
    lines += [f"⚡ {esc(s)}" for s in report.get("signals") or []]
    return "\n".join(lines)


async def health(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/health <compose>: the compose_health report of one stack."""
    compose = await compose_named(ctx, args, mutation=False)
    return await _health_text(ctx, compose.app_name)


async def logs(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/logs <service> [n]: the last n lines (default 30, at most 300), secrets masked."""
    lines = DEFAULT_LOG_LINES
    if len(args) > 1 and args[-1].isdigit():
        lines = max(1, min(MAX_LOG_LINES, int(args[-1])))
        args = args[:-1]
    ref = await service_named(ctx, args, mutation=False)
    result = await call(
        ctx, "read_logs", {"app_name": ref.app_name, "service": ref.service, "mode": "raw", "tail": lines}
    )
    text = _RAW_PREFIX.sub(r"\1 ", unfenced(str(result.get("text") or ""))).strip("\n") or "(no log lines)"
    head = f"<b>{esc(ref.label)}</b> — last {lines} lines of {esc(result.get('container', ''))}"
    return f"{head}\n<pre>{esc(text)}</pre>"


async def metrics(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/metrics <service>: CPU and memory of each container of a service (container_stats)."""
    ref = await service_named(ctx, args, mutation=False)
    result = await call(ctx, "container_stats", {"app_name": ref.app_name, "service": ref.service})
    lines = [f"<b>{esc(ref.label)}</b>"]
    for c in result.get("containers") or []:
        if not c.get("running"):
            lines.append(f"• {esc(c['container'])}: not running")
            continue
        lines.append(
            f"• {esc(c['container'])}: CPU {c['cpu_percent']:.1f}% · memory "
            f"{human_bytes(c['memory_usage_bytes'])} / {human_bytes(c['memory_limit_bytes'])} "
            f"({c['memory_percent']:.0f}%) · pids {c.get('pids') if c.get('pids') is not None else '?'}"
        )
    lines += [f"<i>{esc(n)}</i>" for n in result.get("notes") or []]
    if len(lines) == 1:
        lines.append("no containers")
    return "\n".join(lines)


async def incidents(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/incidents [n]: the newest n incidents (default 5) from the agent's store."""
    count = DEFAULT_INCIDENTS
    if args:
        if not args[0].isdigit() or int(args[0]) < 1:
            raise CommandProblem(f"'{args[0]}' is not a count; send e.g. /incidents 10")
        count = min(MAX_INCIDENTS, int(args[0]))
    recent = await ctx.store.recent(count)
    if not recent:
        return "No incidents recorded."
    lines = [f"<b>Last {len(recent)} incidents</b>"]
    for inc in recent:
        when = inc.opened_at.strftime("%m-%d %H:%M")
        line = f"• <code>{esc(inc.id)}</code> {when} [{esc(inc.status)}] {esc(inc.summary)}"
        if inc.outcome:
            line += f" — {esc(inc.outcome)}"
        lines.append(line)
    return "\n".join(lines)
