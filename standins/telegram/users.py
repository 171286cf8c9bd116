"""The people on the other side: a user writing to the bot, or tapping one of its buttons.

Both queue an update the bot receives through getUpdates, shaped as Telegram shapes it. The test side
(`TelegramStandIn.send_text` / `press_button`) and the command line's control routes use these.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .world import SentMessage, World

# Telegram marks "/command" and "/command@botname" at the start of a word as `bot_command`
COMMAND = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def user(user_id: int, *, username: str | None, first_name: str, language_code: str | None) -> dict[str, Any]:
    """A User object for a person (not a bot)."""
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        found["username"] = username
    if language_code:
        found["language_code"] = language_code
    return found


def user_writes(world: World, chat_id: int, sender: dict[str, Any], text: str) -> int:
    """Queue a `message` update with `text` from `sender` in `chat_id`; returns the message id."""
    if chat_id > 0 and chat_id != sender["id"]:
        raise ValueError(
            f"a private chat's id is its user's id: send chat_id={sender['id']}, or a negative group id"
        )
    if not text:
        raise ValueError("a user cannot send an empty message: give some text")
    with world.lock:
        chat = world.chat(chat_id, user=sender)
        message_id = world.new_message_id(chat_id)
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(chat),
            "date": int(time.time()),
            "text": text,
        }
        entities = [
            {"type": "bot_command", "offset": _utf16(text[: m.start()]), "length": _utf16(m.group())}
            for m in COMMAND.finditer(text)
        ]
        if entities:
            message["entities"] = entities
        world.messages[(chat_id, message_id)] = SentMessage(
            chat_id, message_id, text, text, None, entities, None, message["date"], from_bot=False
        )
        world.queue_update("message", message)
    return message_id


def user_taps(world: World, chat_id: int, message_id: int, sender: dict[str, Any], data: str) -> str:
    """Queue a `callback_query` update for a tap on the bot's message; returns the fresh query id.

    `data` is not checked against the keyboard, so stale or forged taps can be tested.
    """
    with world.lock:
        message = world.messages.get((chat_id, message_id))
        if message is None or message.deleted or not message.from_bot:
            raise ValueError(
                f"no message {message_id} from the bot in chat {chat_id}: tap a message the bot sent"
            )
        query_id = world.next_callback_id()
        world.callbacks[query_id] = (chat_id, message_id)
        world.queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": dict(sender),
                "message": world.message_json(message),
                # Telegram's chat_instance is an opaque id, stable per chat
                "chat_instance": str(abs(chat_id) * 7919 + 1_000_000_007),
                "data": data,
            },
        )
    return query_id


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
