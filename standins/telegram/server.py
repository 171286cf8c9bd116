"""Start, stop, take down and bring back a Telegram Bot API stand-in; play the user; read what the bot did.

The server is uvicorn in a background thread with its own event loop, on a socket bound before it
starts (port 0 = a free port), so `url` is known at once and sync and async tests use it alike.
`down()` closes the port (clients get "connection refused") and drops open connections, held
getUpdates included; queued updates and everything recorded are kept, and `up()` serves again on the
same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import replace
from typing import Any

import uvicorn

from .app import TelegramApp
from .users import user, user_taps, user_writes
from .webhook import deliver_forever
from .world import CallbackAnswer, Edit, FloodLimits, RecordedRequest, ScriptedFailure, SentMessage, World

DEFAULT_TOKEN = "7000000001:AAstand-in-token_for-tests"  # noqa: S105 - a fake token the stand-in accepts


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handling: the host process (pytest, a tool) keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class TelegramStandIn:
    """A local Telegram Bot API for one bot (see the package docstring)."""

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
        self.host = host
        self.token = token
        self.world = World(bot_id=int(token.split(":", 1)[0]), bot_username=bot_username, bot_name=bot_name)
        self.world.limits = flood_limits or FloodLimits()
        self.world.strict_chats = strict_chats
        self.world.allow_http_webhooks = allow_http_webhooks
        self.world.on_answered = on_answered
        self.app = TelegramApp(self.world, token)
        self._sock: socket.socket | None = self._bind(port)
        self.port = int(self._sock.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False

    # -- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The server's root, e.g. `http://127.0.0.1:41234`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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

    # -- going away and coming back ---------------------------------------------------------------
    def down(self) -> None:
        """Telegram unreachable: the port closes (connection refused), open connections drop."""
        if self._loop is not None and self._running:
            asyncio.run_coroutine_threadsafe(self._cut_connections(), self._loop).result(10)
        self._stop_thread(force=True)

    def up(self) -> None:
        """Serve again on the same port (after `down()`), with everything queued and recorded."""
        if not self._running:
            self._sock = self._bind(self.port)
            self.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> TelegramStandIn:
        """Serve from a background thread; returns once requests are accepted."""
        if self._sock is None:
            self._sock = self._bind(self.port)
        self._thread_error = None
        self.app.stopping = False
        self._server = _QuietServer(
            uvicorn.Config(
                self.app,
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=1,
            )
        )
        self._thread = threading.Thread(target=self._thread_main, name="telegram-standin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._thread_error is not None or not self._thread.is_alive():
                raise RuntimeError(f"telegram stand-in failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"telegram stand-in did not start within {timeout}s")
            time.sleep(0.005)
        self._running = True
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop_thread(force=False)

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM (the command line)."""
        assert self._sock is not None
        server = uvicorn.Server(
            uvicorn.Config(self.app, lifespan="off", log_level="warning", server_header=False)
        )
        asyncio.run(self._serve(server, self._sock))

    def __enter__(self) -> TelegramStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> TelegramStandIn:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- internals -------------------------------------------------------------------------
    def _bind(self, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, port))
        sock.listen(512)  # connections queue in the backlog before uvicorn runs: `url` works at once
        return sock

    async def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        """Serve, and deliver updates to a webhook while one is set."""
        delivery = asyncio.create_task(deliver_forever(self.world, lambda: self.app.stopping))
        try:
            await server.serve(sockets=[sock])
        finally:
            self.app.stopping = True
            await asyncio.wait([delivery], timeout=5)
            delivery.cancel()

    def _thread_main(self) -> None:
        server, sock = self._server, self._sock
        assert server is not None and sock is not None

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            await self._serve(server, sock)
            pending = list(server.server_state.tasks)  # held getUpdates end quickly once `stopping` is set
            if pending:
                await asyncio.wait(pending, timeout=5)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._thread_error = exc

    async def _cut_connections(self) -> None:
        """Drop every open connection at once (on the server's loop), like a network outage."""
        self.app.stopping = True
        if self._server is not None:
            for connection in list(self._server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()

    def _stop_thread(self, *, force: bool) -> None:
        self.app.stopping = True
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = force
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()  # uvicorn closes it too; this covers a never-started stand-in
            self._sock = None
        self._running = False
        self._loop = None
        self.app.stopping = False
