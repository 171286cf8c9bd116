"""Bytes on the wire as Telegram's Bot API writes them, and request parameters as it reads them.

Every answer is `{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": "...",
"parameters": {...}}` (https://core.telegram.org/bots/api#making-requests). Parameters arrive as a
query string, `application/x-www-form-urlencoded`, `application/json` or `multipart/form-data`; in the
form kinds every value is a string, and objects (reply_markup, commands...) are JSON-serialized
strings, which is what python-telegram-bot sends. `Params` reads them the way the Bot API does.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON_TYPE = "application/json"


class BotApiError(Exception):
    """A request the Bot API refuses: `{"ok": false, "error_code": code, "description": ...}`."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> BotApiError:
    """A 400 worded like Telegram: "Bad Request: <detail>"."""
    return BotApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> BotApiError:
    """A 429 with `parameters.retry_after`, worded like Telegram's flood control."""
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is (the Bot API sends UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ok_response(result: Any) -> Response:
    return Response(dumps({"ok": True, "result": result}), status_code=200, media_type=JSON_TYPE)


def error_response(error: BotApiError) -> Response:
    return Response(dumps(error.body()), status_code=error.code, media_type=JSON_TYPE)


class Params:
    """One request's parameters, read the way the Bot API reads them (strings coerced per type)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return dumps(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        """An integer; a string of digits counts (form bodies). A malformed value reads as 0, like Telegram."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                return int(float(str(value).strip()))
            except ValueError:
                return 0

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def json_value(self, name: str, what: str) -> Any:
        """An object or array: as sent in a JSON body, or JSON text in a form body.

        `what` words the 400 Telegram gives for unparsable JSON, e.g. "reply keyboard markup".
        """
        value = self.values.get(name)
        if value is None or isinstance(value, dict | list):
            return value
        try:
            return json.loads(str(value))
        except ValueError:
            raise bad_request(f"can't parse {what} JSON object") from None

    def chat_id(self) -> int | str:
        """`chat_id`: an integer, or "@channelusername". Missing → 400 "chat_id is empty"."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        number = self.integer("chat_id")
        if not number:
            raise bad_request("chat not found")
        return number
