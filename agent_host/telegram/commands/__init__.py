"""The bot's commands, in one list (`COMMANDS`), and their handlers.

    /status [project]       stacks with running containers and problems      (list_inventory)
    /services [compose]     services of every stack, or one stack's verdicts (list_inventory, compose_health)
    /logs <service> [n]     last n log lines, secrets masked                 (read_logs)
    /restart <service>      restart a service                                (restart_service)
    /deploy <compose>       deploy a stack through Dokploy                   (deploy)
    /rollback <compose>     back to the previous version                     (rollback)
    /health <compose>       health report of a stack                         (compose_health)
    /metrics <service>      CPU and memory per container                     (container_stats)
    /incidents [n]          newest incidents                                 (the agent's store)
    /approve <id>, /deny <id>  answer an approval request                    (the agent's ApprovalBook)
    /mute <service> <duration>  no notifications about a service for a while (the outbox)
    /help                   this list

Every tool call goes through `ctx.link`, so the MCP server's policy, budgets and audit apply; a
mutating command carries the update's idempotency key and leaves a row in the bot's audit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, MessageHandler, filters

from agent_host.telegram.commands import actions, answers, mute, reads
from agent_host.telegram.commands._common import CommandProblem, first_line, who
from agent_host.telegram.render import html as esc
from agent_host.telegram.render import split_message

if TYPE_CHECKING:
    from agent_host.telegram.context import BotContext

log = logging.getLogger("infraguardian.agent.telegram")

Run = Callable[["BotContext", Update, list[str]], Awaitable[str]]


@dataclass(frozen=True)
class Command:
    """One command: its name (without '/'), the help line, whether it changes anything, and the
    coroutine that returns its HTML reply (raising `CommandProblem` for a one-line answer)."""

    name: str
    help: str
    mutating: bool
    run: Run

    @property
    def usage(self) -> str:
        return self.help.split(" — ")[0]


async def show_help(ctx: BotContext, update: Update, args: list[str]) -> str:
    """/help: every command with its help line."""
    lines = ["<b>InfraGuardian commands</b>"]
    lines += [f"{esc(c.help)}" for c in COMMANDS]
    lines.append("Names are fuzzy (<i>granada api</i>); a name that fits several is asked back.")
    lines.append("Or just ask in plain language, e.g. <i>why is granada down?</i>")
    return "\n".join(lines)


COMMANDS: tuple[Command, ...] = (
    Command("status", "/status [project] — stacks, running containers and problems", False, reads.status),
    Command(
        "services", "/services [compose] — the services of every stack, or one stack's", False, reads.services
    ),
    Command("logs", "/logs <service> [n] — the last n log lines (default 30)", False, reads.logs),
    Command("restart", "/restart <service> — restart a service's containers", True, actions.restart),
    Command("deploy", "/deploy <compose> — deploy a stack through Dokploy", True, actions.deploy),
    Command("rollback", "/rollback <compose> — back to the stack's previous version", True, actions.rollback),
    Command("health", "/health <compose> — health report of a stack", False, reads.health),
    Command("metrics", "/metrics <service> — CPU and memory of a service", False, reads.metrics),
    Command("incidents", "/incidents [n] — the newest incidents (default 5)", False, reads.incidents),
    Command("approve", "/approve <id> — approve a pending change", True, answers.approve),
    Command("deny", "/deny <id> — deny a pending change", True, answers.deny),
    Command("mute", "/mute <service> <duration> — no notifications for 30m, 2h, 1d…", True, mute.mute),
    Command("help", "/help — this list", False, show_help),
)


async def run_command(ctx: BotContext, command: Command, update: Update) -> str:
    """The HTML reply to one command; a `CommandProblem` or a failure becomes one escaped line.
    A mutating command leaves a row in the bot's audit (what was asked and how it ended)."""
    message = update.effective_message
    words = (message.text or "").split()[1:] if message else []
    chat_id, user_id = who(update)
    try:
        reply = await command.run(ctx, update, words)
        ended = "ok"
    except CommandProblem as exc:
        reply = esc(str(exc))
        ended = first_line(str(exc))
    except Exception as exc:  # a bug or an odd answer: one line for the user, the trace for the log
        log.exception("/%s failed", command.name)
        reply = esc(f"/{command.name} failed: {type(exc).__name__}: {first_line(str(exc))}")
        ended = f"failed: {type(exc).__name__}"
    if command.mutating:
        await ctx.audit(chat_id, user_id, f"/{command.name} {' '.join(words)} → {ended}"[:500], True)
    return reply


def _callback(
    ctx: BotContext, command: Command
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        chat_id, user_id = who(update)
        if not ctx.allowed(chat_id, user_id):
            return  # the bot's access guard (group -1) already refused and audited it
        if command.mutating or command.name in ("logs", "metrics", "health"):
            with contextlib.suppress(TelegramError):  # only a hint that the bot works on it
                await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        reply = await run_command(ctx, command, update)
        for part in split_message(reply):
            await message.reply_text(part, parse_mode=ParseMode.HTML)

    return handle


def command_handlers(ctx: BotContext) -> list[BaseHandler[Any, Any, Any]]:
    """A CommandHandler per command, and a MessageHandler for plain-language questions."""
    from agent_host.telegram.questions import on_question

    handlers: list[BaseHandler[Any, Any, Any]] = [CommandHandler(c.name, _callback(ctx, c)) for c in COMMANDS]

    async def question(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await on_question(ctx, update, context)

    handlers.append(MessageHandler(filters.TEXT & ~filters.COMMAND, question))
    return handlers


__all__ = ["COMMANDS", "Command", "CommandProblem", "command_handlers", "run_command"]
