"""A local stand-in for Telegram's Bot API, for tests and the incident lab.

The real python-telegram-bot runs against it unchanged (`Bot(token, base_url=standin.base_url)`, or
`ApplicationBuilder().token(t).base_url(standin.base_url)`): getMe, getUpdates (long polling with
offset/limit/timeout), setWebhook/deleteWebhook/getWebhookInfo, sendMessage, editMessageText,
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, setMyCommands/getMyCommands/
deleteMyCommands, sendChatAction; answers in Telegram's wire format (`{"ok": true, "result": ...}` or
`{"ok": false, "error_code": N, "description": "...", "parameters": {"retry_after": S}}`), with
Telegram's HTML/MarkdownV2 parse errors, length limits, keyboard checks and flood control (429).

    from standins.telegram import TelegramStandIn
    with TelegramStandIn() as telegram:
        telegram.send_text(chat_id=42, user_id=42, text="/status")   # the user writes
        ...                                                          # the bot runs
        telegram.sent(42)[-1].text                                   # what it answered
        telegram.press_button(42, 42, message_id, "approve:7")       # the user taps a button

The test side also has `edits`, `callback_answers`, `requests`, `rate_limit(s)`, `fail_next(...)`,
`set_flood_limits(...)`, `down()` and `up()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import TelegramStandIn
    from .world import FloodLimits, RecordedRequest, SentMessage

__all__ = ["FloodLimits", "RecordedRequest", "SentMessage", "TelegramStandIn"]


def __getattr__(name: str) -> Any:
    # imported lazily so `--help` of the command stays fast
    if name == "TelegramStandIn":
        from .server import TelegramStandIn

        return TelegramStandIn
    if name in ("FloodLimits", "RecordedRequest", "SentMessage"):
        from . import world

        return getattr(world, name)
    raise AttributeError(name)
