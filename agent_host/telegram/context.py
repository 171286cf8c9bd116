"""What every Telegram handler needs, built once by the runner and passed to each part of the bot:
the settings, the MCP server link (every tool call goes through the server's policy, budgets and
audit), the incident store, the approval book, the model (optional) and the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_host.approvals.book import ApprovalBook
from agent_host.incidents.store import IncidentStore
from agent_host.loop.ports import ToolCaller

from .outbox import Outbox
from .settings import TelegramSettings


@dataclass
class BotContext:
    settings: TelegramSettings
    link: ToolCaller | None
    store: IncidentStore
    approvals: ApprovalBook | None
    decider: Any | None  # agent_host.model.ModelDecider, or None when no model is configured
    outbox: Outbox

    def allowed(self, chat_id: int, user_id: int) -> bool:
        """True when the chat is an allowed chat and (if a user list is set) the user is on it."""
        if chat_id not in self.settings.allowed_chat_ids:
            return False
        users = self.settings.allowed_user_ids
        return not users or user_id in users

    async def audit(self, chat_id: int, user_id: int, what: str, allowed: bool) -> None:
        """One row in the agent's database (table telegram_audit): who asked what, obeyed or not."""
        await self.outbox.audit(chat_id, user_id, what, allowed)
