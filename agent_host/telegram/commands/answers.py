"""/approve <id> and /deny <id>: answer one of the agent's approval requests (its ApprovalBook),
signed f"telegram:{user_id}". A second answer, an expired or unknown id gets the book's one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update

from agent_host.approvals.book import ApprovalError
from agent_host.telegram.commands._common import CommandProblem, who
from agent_host.telegram.render import html as esc

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext


async def _answer(ctx: BotContext, update: Update, args: list[str], approve: bool) -> str:
    verb = "approve" if approve else "deny"
    if ctx.approvals is None:
        raise CommandProblem("approvals are off in this agent; nothing waits for an answer")
    if len(args) != 1:
        pending = await ctx.approvals.pending()
        ids = ", ".join(p.id for p in pending) or "none pending"
        raise CommandProblem(f"send /{verb} <id> with one request id ({ids})")
    _, user_id = who(update)
    try:
        answered = await ctx.approvals.answer(args[0], approve=approve, by=f"telegram:{user_id}")
    except ApprovalError as exc:
        raise CommandProblem(str(exc)) from None
    mark = "✅ approved" if approve else "🚫 denied"
    return f"{mark}: <b>{esc(answered.title)}</b> (<code>{esc(answered.id)}</code>, incident {esc(answered.incident_id)})"


async def approve(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/approve <id>: approve a pending request; the agent then runs the exact plan it showed."""
    return await _answer(ctx, update, args, approve=True)


async def deny(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/deny <id>: deny a pending request; the agent escalates instead of acting."""
    return await _answer(ctx, update, args, approve=False)
