"""The ASGI application: `/bot<token>/<method>` routed like Telegram's Bot API, every call recorded.

A malformed token or path is 404 "Not Found", a well-formed but wrong token 401 "Unauthorized", an
unknown method 404 "Not Found". Method names match case-insensitively. Parameters come from the query
string and a JSON, form-encoded or multipart body. Scripted failures (`fail_next`) answer before the
method runs. getUpdates long-polls here: it holds the request until an update is queued or `timeout`
passes, and a newer getUpdates ends an older one with 409, as Telegram does.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from .control import PREFIX, control
from .methods import METHODS
from .wire import BotApiError, Params, error_response, ok_response
from .world import RecordedRequest, World

PATH = re.compile(r"/bot(?P<token>[^/]*)/(?P<method>[A-Za-z0-9_]+)/?")
TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
POLL_STEP_S = 0.02  # how often a held getUpdates looks for new updates
MAX_POLL_TIMEOUT_S = 50  # the Bot API caps long polling near this
WEBHOOK_CONFLICT = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)


class TelegramApp:
    """ASGI app answering like the Bot API, from a `World` (see the module docstring)."""

    def __init__(self, world: World, token: str) -> None:
        self.world = world
        self.token = token
        self.stopping = False  # set while the server goes down: held getUpdates end at once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # uvicorn runs with lifespan="off": nothing to start or stop
            return
        request = Request(scope, receive)
        if request.url.path.startswith(PREFIX):
            await self._control(request, scope, receive, send)
            return
        match = PATH.fullmatch(request.url.path)
        name = match["method"] if match else request.url.path
        record = RecordedRequest(method=name, params={}, http_method=request.method)
        try:
            result = await self._answer(request, match, record)
            response = ok_response(result)
        except BotApiError as exc:
            response = error_response(exc)
            record.description = exc.description
        except Exception as exc:  # a stand-in bug: answer 500 so the client sees it, and say what broke
            error = BotApiError(500, f"Internal Server Error: stand-in crashed: {exc!r}")
            with self.world.lock:
                self.world.problems.append(f"stand-in crashed on {name}: {exc!r}")
            response = error_response(error)
            record.description = error.description
        record.status = response.status_code
        self.world.record(record)
        if self.world.on_answered is not None:
            self.world.on_answered(record)
        await response(scope, receive, send)

    async def _control(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = ok_response(await control(self.world, request))
        except BotApiError as exc:
            response = error_response(exc)
        await response(scope, receive, send)

    async def _answer(self, request: Request, match: re.Match[str] | None, record: RecordedRequest) -> Any:
        if match is None or not TOKEN.fullmatch(match["token"]):
            raise BotApiError(404, "Not Found")
        if match["token"] != self.token:
            raise BotApiError(401, "Unauthorized")
        params = Params(await _read_params(request))
        record.params = dict(params.values)
        key = match["method"].lower()
        known = METHODS.get(key)
        if key == "getupdates":
            record.method = "getUpdates"
        elif known is not None:
            record.method = known[0]
        else:
            raise BotApiError(404, "Not Found")
        failure = self.world.take_failure(record.method)
        if failure is not None:
            raise BotApiError(failure.error_code, failure.description, retry_after=failure.retry_after)
        if key == "getupdates":
            return await self.get_updates(request, params)
        assert known is not None
        return known[1](self.world, params)

    async def get_updates(self, request: Request, params: Params) -> list[dict[str, Any]]:
        """Long polling: updates from `offset` on (older ones confirmed), at most `limit`, waiting up
        to `timeout` seconds for the first one."""
        world = self.world
        with world.lock:
            if world.webhook is not None:
                raise BotApiError(409, WEBHOOK_CONFLICT)
            world.poll_generation += 1
            generation = world.poll_generation
        offset = params.integer("offset")
        limit = min(100, max(1, params.integer("limit", 100) or 100))
        timeout = min(MAX_POLL_TIMEOUT_S, max(0, params.integer("timeout", 0) or 0))
        allowed = params.json_value("allowed_updates", "allowed updates") or None
        deadline = time.monotonic() + timeout
        while True:
            updates = world.confirm_and_take(offset, limit, allowed)
            if offset is not None and offset < 0:
                offset = None  # "the last -offset updates" applies once; then plain polling
            if updates or self.stopping or time.monotonic() >= deadline:
                return updates
            if world.poll_generation != generation:
                raise BotApiError(409, POLL_CONFLICT)
            if await request.is_disconnected():
                return []  # the client gave up (e.g. the bot stopped): nobody reads this answer
            await asyncio.sleep(POLL_STEP_S)


async def _read_params(request: Request) -> dict[str, Any]:
    """Query string, then the body (JSON, form-encoded or multipart) on top of it."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError:
            body = {}  # Telegram ignores a body it cannot read: the method then misses its parameters
        if isinstance(body, dict):
            params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for key, value in form.multi_items():
            # an uploaded file is recorded by name: the stand-in stores no media
            params[key] = f"<file {value.filename}>" if isinstance(value, UploadFile) else value
    return params
