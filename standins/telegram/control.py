"""Control routes for manual and lab runs of the command line: play the user over HTTP.

    POST /standin/send_text     {"chat_id": 42, "user_id": 42, "text": "/status", "username": "owner"}
    POST /standin/press_button  {"chat_id": 42, "user_id": 42, "message_id": 3, "data": "approve:7"}
    GET  /standin/sent?chat_id=42

Answers use the Bot API's envelope (`ok`/`result`, or `ok: false` with a 400 `description`). They
are not part of Telegram's API: a bot never calls them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .users import user, user_taps, user_writes
from .wire import BotApiError, bad_request
from .world import World

PREFIX = "/standin/"


async def control(world: World, request: Request) -> Any:
    """The result of one control route, or BotApiError (400 for bad input, 404 for an unknown route)."""
    route = request.url.path[len(PREFIX) :].strip("/")
    if route == "sent" and request.method == "GET":
        chat = request.query_params.get("chat_id")
        return [_sent_json(world, m) for m in world.sent(int(chat) if chat else None)]
    if request.method != "POST" or route not in ("send_text", "press_button"):
        raise BotApiError(404, "Not Found")
    try:
        body = json.loads((await request.body()) or b"{}")
        sender = user(
            int(body["user_id"]),
            username=body.get("username"),
            first_name=str(body.get("first_name") or "Owner"),
            language_code=body.get("language_code", "en"),
        )
        if route == "send_text":
            return {"message_id": user_writes(world, int(body["chat_id"]), sender, str(body["text"]))}
        query_id = user_taps(world, int(body["chat_id"]), int(body["message_id"]), sender, str(body["data"]))
        return {"callback_query_id": query_id}
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request(
            f"stand-in control: {exc}; send JSON with chat_id, user_id and text (or message_id and data)"
        ) from None


def _sent_json(world: World, message: Any) -> dict[str, Any]:
    body = world.message_json(message)
    body["raw_text"], body["parse_mode"] = message.raw_text, message.parse_mode
    return body
