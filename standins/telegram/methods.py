"""The Bot API methods the stand-in answers (all but getUpdates, which waits and lives in `app`).

Each takes the `World` and the request's `Params` and returns the `result`, or raises BotApiError
with Telegram's code and wording. Checks follow https://core.telegram.org/bots/api and the
descriptions Telegram really sends.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from .keyboards import check_reply_markup
from .markup import check_text
from .wire import BotApiError, Params, bad_request, too_many_requests
from .world import CallbackAnswer, Edit, SentMessage, World

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
WEBHOOK_PORTS = (80, 88, 443, 8443)
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

Method = Callable[[World, Params], Any]


def get_me(world: World, params: Params) -> Any:
    return {
        **world.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _chat_id(world: World, params: Params) -> int:
    chat_id = params.chat_id()
    if isinstance(chat_id, str):
        raise bad_request("chat not found")  # the stand-in knows no public usernames
    if world.strict_chats and chat_id not in world.chats:
        if chat_id > 0:
            raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")
    return chat_id


def _flood_check(world: World, chat_id: int) -> None:
    wait = world.flood_wait(chat_id)
    if wait is not None:
        raise too_many_requests(wait)


def send_message(world: World, params: Params) -> Any:
    chat_id = _chat_id(world, params)
    parse_mode = params.string("parse_mode")
    raw_text = params.string("text")
    text, entities = check_text(raw_text, parse_mode)
    if "entities" in params and not parse_mode:
        entities = params.json_value("entities", "message entities") or []
    markup = check_reply_markup(params.json_value("reply_markup", "reply keyboard markup"))
    _flood_check(world, chat_id)
    with world.lock:
        world.chat(chat_id)
        message = SentMessage(
            chat_id=chat_id,
            message_id=world.new_message_id(chat_id),
            text=text,
            raw_text=raw_text or "",
            parse_mode=parse_mode,
            entities=entities,
            reply_markup=markup,
            date=int(time.time()),
        )
        world.messages[(chat_id, message.message_id)] = message
        return world.message_json(message)


def _bot_message(world: World, params: Params, *, missing: str) -> SentMessage:
    """The message an edit names (chat_id + message_id); inline messages are not kept."""
    if "inline_message_id" in params and "chat_id" not in params:
        raise bad_request(missing)
    chat_id = _chat_id(world, params)
    message_id = params.integer("message_id")
    if not message_id:
        raise bad_request("message identifier is not specified")
    message = world.messages.get((chat_id, message_id))
    if message is None or message.deleted:
        raise bad_request(missing)
    return message


def edit_message_text(world: World, params: Params) -> Any:
    parse_mode = params.string("parse_mode")
    raw_text = params.string("text")
    text, entities = check_text(raw_text, parse_mode)
    markup = check_reply_markup(params.json_value("reply_markup", "reply keyboard markup"))
    with world.lock:
        message = _bot_message(world, params, missing="message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        _flood_check(world, message.chat_id)
        world.edits.append(
            Edit(message.chat_id, message.message_id, "editMessageText", message.text, text, markup)
        )
        message.history.append(message.text)
        message.text, message.raw_text, message.parse_mode, message.entities = (
            text,
            raw_text or "",
            parse_mode,
            entities,
        )
        message.reply_markup, message.edit_date = markup, int(time.time())
        return world.message_json(message)


def edit_message_reply_markup(world: World, params: Params) -> Any:
    markup = check_reply_markup(params.json_value("reply_markup", "reply keyboard markup"))
    with world.lock:
        message = _bot_message(world, params, missing="message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        _flood_check(world, message.chat_id)
        world.edits.append(
            Edit(
                message.chat_id,
                message.message_id,
                "editMessageReplyMarkup",
                message.text,
                message.text,
                markup,
            )
        )
        message.reply_markup, message.edit_date = markup, int(time.time())
        return world.message_json(message)


def delete_message(world: World, params: Params) -> Any:
    with world.lock:
        message = _bot_message(world, params, missing="message to delete not found")
        message.deleted = True
        return True


def answer_callback_query(world: World, params: Params) -> Any:
    query_id = params.string("callback_query_id")
    if not query_id:
        raise bad_request("query_id is empty")
    with world.lock:
        if world.callbacks.pop(query_id, None) is None:  # unknown, or already answered
            raise bad_request(QUERY_TOO_OLD)
        world.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=params.string("text"),
                show_alert=params.boolean("show_alert"),
                url=params.string("url"),
                cache_time=params.integer("cache_time", 0) or 0,
            )
        )
    return True


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.json_value("scope", "bot command scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.string("language_code") or ""


def set_my_commands(world: World, params: Params) -> Any:
    commands = params.json_value("commands", "bot commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    checked = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand: BotCommand must be an Object")
        name = str(command.get("command") or "").lstrip("/").lower()
        description = str(command.get("description") or "").strip()
        if not COMMAND_NAME.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": name, "description": description})
    with world.lock:
        world.commands[_commands_key(params)] = checked
    return True


def get_my_commands(world: World, params: Params) -> Any:
    with world.lock:
        return list(world.commands.get(_commands_key(params), []))


def delete_my_commands(world: World, params: Params) -> Any:
    with world.lock:
        world.commands.pop(_commands_key(params), None)
    return True


def send_chat_action(world: World, params: Params) -> Any:
    chat_id = _chat_id(world, params)
    action = params.string("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    with world.lock:
        world.chat_actions.append((chat_id, action))
    return True


def set_webhook(world: World, params: Params) -> Any:
    url = params.string("url") or ""
    if not url:
        return delete_webhook(world, params)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (world.allow_http_webhooks and parts.scheme == "http"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if parts.scheme == "https" and (parts.port or 443) not in WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = params.string("secret_token")
    if secret is not None and not SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    with world.lock:
        if params.boolean("drop_pending_updates"):
            world.updates.clear()
        world.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": params.integer("max_connections", 40),
            "allowed_updates": params.json_value("allowed_updates", "allowed updates"),
        }
    return True


def delete_webhook(world: World, params: Params) -> Any:
    with world.lock:
        if params.boolean("drop_pending_updates"):
            world.updates.clear()
        world.webhook = None
    return True


def get_webhook_info(world: World, params: Params) -> Any:
    with world.lock:
        info: dict[str, Any] = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(world.updates),
        }
        if world.webhook is not None:
            info.update(url=world.webhook["url"], max_connections=world.webhook["max_connections"])
            for key in ("last_error_date", "last_error_message"):
                if key in world.webhook:
                    info[key] = world.webhook[key]
            if world.webhook["allowed_updates"]:
                info["allowed_updates"] = world.webhook["allowed_updates"]
        return info


# lower-case name (Telegram matches method names case-insensitively) → (canonical name, handler)
METHODS: dict[str, tuple[str, Method]] = {
    name.lower(): (name, handler)
    for name, handler in [
        ("getMe", get_me),
        ("sendMessage", send_message),
        ("editMessageText", edit_message_text),
        ("editMessageReplyMarkup", edit_message_reply_markup),
        ("deleteMessage", delete_message),
        ("answerCallbackQuery", answer_callback_query),
        ("setMyCommands", set_my_commands),
        ("getMyCommands", get_my_commands),
        ("deleteMyCommands", delete_my_commands),
        ("sendChatAction", send_chat_action),
        ("setWebhook", set_webhook),
        ("deleteWebhook", delete_webhook),
        ("getWebhookInfo", get_webhook_info),
    ]
}
