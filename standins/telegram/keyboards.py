"""Reply markup checked the way the Bot API checks it: inline keyboards whose buttons each carry an
action, callback_data of 1-64 bytes ("BUTTON_DATA_INVALID"), URLs with a scheme ("BUTTON_URL_INVALID").
Other markups (reply keyboards, ReplyKeyboardRemove, ForceReply) are stored as sent.
"""

from __future__ import annotations

from typing import Any

from .wire import bad_request

MAX_CALLBACK_DATA = 64  # bytes
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """The reply_markup as Telegram stores it, or BotApiError(400) for a keyboard it refuses."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard = markup.get("inline_keyboard")
    if keyboard is None:
        return markup  # reply keyboards, ReplyKeyboardRemove, ForceReply: stored as sent
    if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
        raise bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays'
        )
    for row in keyboard:
        for button in row:
            _check_button(button)
    return markup


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    actions = [key for key in BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if "callback_data" in button and (
        not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in button and (not isinstance(url, str) or ("://" not in url and not url.startswith("tg:"))):
        raise bad_request("BUTTON_URL_INVALID")


def buttons(markup: dict[str, Any] | None) -> list[list[tuple[str, str | None]]]:
    """An inline keyboard as rows of (text, callback_data)."""
    rows = (markup or {}).get("inline_keyboard") or []
    return [[(str(b.get("text", "")), b.get("callback_data")) for b in row] for row in rows]
