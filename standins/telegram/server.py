"""Start, stop, take down and bring back a Telegram Bot API stand-in; play the user; read what the bot did.

The server is uvicorn in a background thread (`standins.background.BackgroundServer`), on a socket
bound before it starts (port 0 = a free port), so `url` is known at once and sync and async tests use
it alike; webhook delivery runs beside it on the same event loop.
`down()` closes the port (clients get "connection refused") and drops open connections, held
getUpdates included; queued updates and everything recorded are kept, and `up()` serves again on the
same port.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from ..background import ASGIApp, BackgroundServer
from .app import TelegramApp
from .users import user, user_taps, user_writes
from .webhook import deliver_forever
from .world import CallbackAnswer, Edit, FloodLimits, RecordedRequest, ScriptedFailure, SentMessage, World

DEFAULT_TOKEN = "7000000001:AAstand-in-token_for-tests"  # noqa: S105 - a fake token the stand-in accepts


class TelegramStandIn(BackgroundServer):
    """A local Telegram Bot API for one bot (see the package docstring)."""

    standin_name = "telegram"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "infraguardian_test_bot",
        bot_name: str = "InfraGuardian",
        flood_limits: FloodLimits | None = None,
        strict_chats: bool = False,
        allow_http_webhooks: bool = False,
        on_answered: Callable[[RecordedRequest], None] | None = None,
    ) -> None:
        self.token = token
        self.world = World(bot_id=int(token.split(":", 1)[0]), bot_username=bot_username, bot_name=bot_name)
        self.world.limits = flood_limits or FloodLimits()
        self.world.strict_chats = strict_chats
        self.world.allow_http_webhooks = allow_http_webhooks
        self.world.on_answered = on_answered
        self.app = TelegramApp(self.world, token)
        super().__init__(host=host, port=port)

    # -- addresses (`url`, the server's root, comes from BackgroundServer) -----------------------
    @property
    def base_url(self) -> str:
        """For python-telegram-bot's `base_url` (it appends the token): `http://127.0.0.1:41234/bot`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(self.world.bot_user["id"])

    # -- playing the user --------------------------------------------------------------------------
    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        username: str | None = None,
        first_name: str = "Owner",
        language_code: str | None = "en",
    ) -> int:
        """A user writes `text` in a chat: queues a `message` update; returns the message id.

        A private chat's id is its user's id (Telegram's rule); negative ids are groups. Commands
        ("/status", "/logs@bot api") get `bot_command` entities, as Telegram adds them.
        """
        sender = user(user_id, username=username, first_name=first_name, language_code=language_code)
        return user_writes(self.world, chat_id, sender, text)

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        username: str | None = None,
        first_name: str = "Owner",
        language_code: str | None = "en",
    ) -> str:
        """A user taps an inline button with `data` under the bot's message: queues a `callback_query`
        update (the message as it now stands) and returns its fresh callback query id.

        `data` is not checked against the keyboard, so stale or forged taps can be tested.
        """
        sender = user(user_id, username=username, first_name=first_name, language_code=language_code)
        return user_taps(self.world, chat_id, message_id, sender, data)

    # -- what the bot did --------------------------------------------------------------------------
    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        """The bot's messages (in a chat, or all) as they now stand: edits applied, deleted ones gone."""
        return self.world.sent(chat_id)

    def message(self, chat_id: int, message_id: int) -> SentMessage | None:
        """One message as it now stands (deleted ones too, with `deleted`), or None."""
        with self.world.lock:
            found = self.world.messages.get((chat_id, message_id))
            return replace(found, history=list(found.history)) if found else None

    @property
    def edits(self) -> list[Edit]:
        with self.world.lock:
            return list(self.world.edits)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        with self.world.lock:
            return list(self.world.callback_answers)

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        with self.world.lock:
            return list(self.world.chat_actions)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every call received, in order (the last 10,000)."""
        with self.world.lock:
            return list(self.world.requests)

    def calls(self, method: str) -> list[RecordedRequest]:
        """The recorded calls of one method (any capitalization, e.g. "sendMessage")."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def problems(self) -> list[str]:
        """Stand-in crashes (a bug here, not in the bot); the pytest fixture fails the test on these."""
        with self.world.lock:
            return list(self.world.problems)

    def commands(self, language_code: str = "", scope: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """What setMyCommands stored for a scope (default scope) and language."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        with self.world.lock:
            return list(self.world.commands.get(key, []))

    @property
    def webhook(self) -> dict[str, Any] | None:
        with self.world.lock:
            return dict(self.world.webhook) if self.world.webhook else None

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self.world.lock:
            return list(self.world.updates)

    async def wait_for(self, condition: Callable[[], Any], within: float = 20.0) -> Any:
        """Wait (in an async test) until `condition()` is truthy; returns it. TimeoutError after `within` s."""
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"the Telegram stand-in did not see that within {within}s")
            await asyncio.sleep(0.02)

    # -- scripting errors --------------------------------------------------------------------------
    def rate_limit(self, seconds: int) -> None:
        """Flood wait: every send and edit is refused with 429 and `retry_after` until `seconds` pass."""
        with self.world.lock:
            self.world.blocked_until = time.monotonic() + seconds

    def fail_next(
        self, method: str, error_code: int, description: str, retry_after: int | None = None
    ) -> None:
        """The next call of `method` ("*" = any) is answered with this error instead (queued, used once)."""
        with self.world.lock:
            self.world.failures.append(ScriptedFailure(method.lower(), error_code, description, retry_after))

    @property
    def flood_limits(self) -> FloodLimits:
        return self.world.limits

    def set_flood_limits(self, **changes: float) -> FloodLimits:
        """Change flood control (see `FloodLimits`), e.g. `set_flood_limits(chat_per_second=2, chat_burst=2)`."""
        with self.world.lock:
            self.world.limits = replace(self.world.limits, **changes)  # type: ignore[arg-type]
            return self.world.limits

    # -- served by BackgroundServer (`start`, `stop`, `down`, `up`, `with`, `async with`) -----------
    def _asgi_app(self) -> ASGIApp:
        return self.app

    def _set_stopping(self, stopping: bool) -> None:
        self.app.stopping = stopping  # held getUpdates end at once while the server goes down

    def _beside_server(self) -> Coroutine[Any, Any, None]:
        """Deliver updates to a webhook while one is set."""
        return deliver_forever(self.world, lambda: self.app.stopping)
