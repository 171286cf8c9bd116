"""What the commands share: escaping container text, calling the MCP server's tools, reading the
inventory, and the one-line answers for refusals and failures.

Every tool call goes through `ctx.link` (the agent's link to the MCP server), so the server's
policy, budgets and audit apply to the bot exactly as to the agent.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from telegram import Update

from agent_host.telegram.render import unfenced
from agent_host.telegram.resolve import (
    ComposeRef,
    Resolution,
    ServiceRef,
    resolve_compose,
    resolve_service,
)

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext


class CommandProblem(Exception):
    """A command cannot go on; its message is the one line (plain text) the user gets."""


def key_for(update: Update) -> str:
    """The idempotency key of a mutating command: one Telegram update is acted on at most once
    (a redelivered update gets the server's recorded answer, not a second action)."""
    return f"telegram:{update.update_id}"


def who(update: Update) -> tuple[int, int]:
    """(chat id, user id) of an update."""
    chat = update.effective_chat
    user = update.effective_user
    return (chat.id if chat else 0, user.id if user else 0)


def failure_line(answer: Any, tool: str) -> str:
    """One line for a call that did not succeed: a policy refusal shows its reason."""
    if getattr(answer, "refused", False):
        return f"refused by the server's policy: {first_line(answer.error or answer.text)}"
    if getattr(answer, "outcome_unknown", False):
        return f"{tool}: outcome unknown: {first_line(answer.error or '')}"
    return f"{tool} failed: {first_line(answer.error or answer.text or 'no answer')}"


def first_line(text: str) -> str:
    """The first line of `text`, without the server's fence markers, at most 300 characters."""
    line = unfenced(text).strip().splitlines()[0] if text.strip() else ""
    line = re.sub(r"^Error executing tool [A-Za-z0-9_.-]+: ", "", line)
    return line[:300]


async def call(
    ctx: BotContext,
    tool: str,
    arguments: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """The structured answer of `tool`; `CommandProblem` with one line when it did not succeed."""
    if ctx.link is None:
        raise CommandProblem("the MCP server is not connected; commands that read or act are unavailable")
    try:
        answer = await ctx.link.call_tool(
            tool, arguments, idempotency_key=idempotency_key, timeout_s=timeout_s
        )
    except Exception as exc:  # the link is down (ServerUnavailable) or broke: say so, never crash
        raise CommandProblem(
            f"the MCP server did not answer {tool}: {first_line(str(exc)) or type(exc).__name__}"
        ) from None
    if not answer.ok:
        raise CommandProblem(failure_line(answer, tool))
    return dict(answer.structured or {"text": answer.text})


async def inventory(ctx: BotContext) -> dict[str, Any]:
    """The server's inventory (list_inventory): every stack and its services."""
    return await call(ctx, "list_inventory", {})


async def service_named(ctx: BotContext, args: list[str], *, mutation: bool) -> ServiceRef:
    """The one service `args` name, or `CommandProblem` asking back (never a guess for a mutation)."""
    if not args:
        raise CommandProblem("name a service, e.g. 'granada api'")
    found: Resolution[ServiceRef] = resolve_service(args, await inventory(ctx), mutation=mutation)
    if found.match is None:
        raise CommandProblem(found.question("service"))
    return found.match


async def compose_named(ctx: BotContext, args: list[str], *, mutation: bool) -> ComposeRef:
    """The one stack `args` name, or `CommandProblem` asking back."""
    if not args:
        raise CommandProblem("name a compose, e.g. 'granada'")
    found: Resolution[ComposeRef] = resolve_compose(args, await inventory(ctx), mutation=mutation)
    if found.match is None:
        raise CommandProblem(found.question("compose"))
    return found.match


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
