"""The access guard: the first handler every update meets (handler group -1). An update from a chat
or user that is not allowed gets a polite refusal and a row in the audit, and stops there
(`ApplicationHandlerStop`): no command, question or button handler ever sees it.
"""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, TypeHandler

from .context import BotContext

log = logging.getLogger(__name__)

GUARD_GROUP = -1
REFUSAL = (
    "Sorry, I only take instructions from the chats and people my owner has allowed. "
    "This attempt was recorded."
)
REFUSAL_QUIET_S = 60.0  # one refusal per chat and user a minute: a stranger cannot make the bot spam


def describe(update: Update) -> str:
    """What the update asked, one line for the audit: the message text or the button's data."""
    if update.callback_query is not None:
        return f"button {update.callback_query.data or ''}"
    message = update.effective_message
    if message is not None and message.text:
        return message.text
    return "update without text"


class AccessGuard:
    """Refuses and audits updates from chats or users not in the settings."""

    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx
        self._last_refusal: dict[tuple[int, int], float] = {}

    def handler(self) -> TypeHandler[Update, ContextTypes.DEFAULT_TYPE, None]:
        return TypeHandler(Update, self.check)

    async def check(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or user is None:
            raise ApplicationHandlerStop  # channel posts, membership changes…: nothing to obey
        if self._ctx.allowed(chat.id, user.id):
            return
        what = describe(update)
        log.warning("telegram: refused chat %s user %s", chat.id, user.id)
        await self._ctx.audit(chat.id, user.id, what, False)
        await self._refuse(update, chat.id, user.id)
        raise ApplicationHandlerStop

    async def _refuse(self, update: Update, chat_id: int, user_id: int) -> None:
        """Answer the button press (so the spinner stops) or reply once a minute to messages."""
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(REFUSAL, show_alert=True)
                return
            moment = time.monotonic()
            last = self._last_refusal.get((chat_id, user_id))
            if last is not None and moment - last < REFUSAL_QUIET_S:
                return
            self._last_refusal[(chat_id, user_id)] = moment
            if update.effective_message is not None:
                await update.effective_message.reply_text(REFUSAL)
        except TelegramError as exc:  # the refusal is a courtesy; the audit row is what matters
            log.warning("telegram: could not send the refusal to chat %s: %s", chat_id, exc)
