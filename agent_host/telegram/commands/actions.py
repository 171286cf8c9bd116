"""The mutating commands: /restart, /deploy, /rollback. Each names its target exactly (an ambiguous
name is asked back, never guessed), then calls the MCP server's tool (restart_service, deploy,
rollback) with the update's idempotency key: the server's policy, budgets and audit decide, and a
refusal comes back as its one-line reason. The command wrapper writes the bot's audit row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update

from agent_host.telegram.commands._common import call, compose_named, key_for, service_named
from agent_host.telegram.render import html as esc

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext

RESTART_TIMEOUT_S = 300.0  # ~10 s per container, with the budget's waits
DEPLOY_TIMEOUT_S = 900.0  # the deploy tool waits up to 600 s for Dokploy


async def restart(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/restart <service>: restart every container of one service (restart_service)."""
    ref = await service_named(ctx, args, mutation=True)
    result = await call(
        ctx,
        "restart_service",
        {"app_name": ref.app_name, "service": ref.service},
        idempotency_key=key_for(update),
        timeout_s=RESTART_TIMEOUT_S,
    )
    mark = "✅" if result.get("ok") else "❌"
    lines = [f"{mark} <b>restart {esc(ref.label)}</b>"]
    for c in result.get("containers") or []:
        after = c.get("status_after") or "?"
        note = f" ({esc(c['message'])})" if c.get("message") else ""
        lines.append(f"• {esc(c['container'])}: {esc(c['status_before'])} → {esc(after)}{note}")
    if result.get("policy"):
        lines.append(f"<i>{esc(result['policy'])}</i>")
    return "\n".join(lines)


async def deploy(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/deploy <compose>: deploy a stack through Dokploy and wait for the result (deploy)."""
    compose = await compose_named(ctx, args, mutation=True)
    result = await call(
        ctx,
        "deploy",
        {"app_name": compose.app_name},
        idempotency_key=key_for(update),
        timeout_s=DEPLOY_TIMEOUT_S,
    )
    mark = "✅" if result.get("ok") else "❌"
    line = f"{mark} <b>deploy {esc(compose.app_name)}</b>: {esc(result.get('status') or '?')}"
    if result.get("elapsed_s") is not None:
        line += f" in {float(result['elapsed_s']):.0f} s"
    lines = [line]
    if result.get("log_tail"):
        lines.append(f"<pre>{esc(result['log_tail'])}</pre>")
    if result.get("policy"):
        lines.append(f"<i>{esc(result['policy'])}</i>")
    return "\n".join(lines)


async def rollback(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/rollback <compose>: go back to the stack's previous version and redeploy (rollback)."""
    compose = await compose_named(ctx, args, mutation=True)
    result = await call(
        ctx,
        "rollback",
        {"app_name": compose.app_name},
        idempotency_key=key_for(update),
        timeout_s=DEPLOY_TIMEOUT_S,
    )
    mark = "✅" if result.get("ok") else "❌"
    lines = [
        f"{mark} <b>rollback {esc(compose.app_name)}</b> to {esc(result.get('rollback_to') or '?')}: "
        f"{esc(result.get('status') or '?')}"
    ]
    if result.get("compose_diff"):
        lines.append(f"<pre>{esc(result['compose_diff'])}</pre>")
    lines += [f"• {esc(n)}" for n in result.get("notes") or []]
    if result.get("policy"):
        lines.append(f"<i>{esc(result['policy'])}</i>")
    return "\n".join(lines)
