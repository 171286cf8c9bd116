"""Webhook mode: Telegram POSTs each update to a small HTTP endpoint the agent serves itself.

Polling is the default (no public address needed). With a webhook, the agent serves a Starlette app
with uvicorn as a task on its OWN event loop (python-telegram-bot's built-in webhook server needs
tornado, which is not installed, and `run_webhook` would take the loop over). Every POST must carry
the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token` (compared in constant time):
wrong or missing → 403 and nothing is queued. A good body becomes a `telegram.Update` on
`application.update_queue`, where the started Application's handlers pick it up as if polled.
Anything malformed → 400; the receiver never crashes on a request.

Telegram only posts to https URLs on ports 443, 80, 88 or 8443. The usual setup is a reverse proxy
(TLS) at the public `url` forwarding to `listen:port` (plain http, 127.0.0.1 by default) with the
same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import socket
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = logging.getLogger("infraguardian.agent.telegram")

ENV = "INFRAGUARDIAN_AGENT__TELEGRAM__"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)  # the only ports Telegram posts to
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Telegram's rule for secret_token
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")  # commands, questions, buttons
MAX_BODY_BYTES = 1_000_000  # an update is a few KiB; anything bigger is not from Telegram
SHUTDOWN_GRACE_S = 5  # open requests get this long to finish at stop()


class WebhookError(RuntimeError):
    """The webhook endpoint cannot be served (e.g. its port is taken); the message is one line."""


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram posts updates (`url`, public) and where the agent listens for them.

    url     public https URL given to Telegram (port 443, 80, 88 or 8443); its path is served
    listen  address the agent binds (behind a TLS proxy: 127.0.0.1)
    port    port the agent binds (any free port; the proxy forwards to it)
    secret  the X-Telegram-Bot-Api-Secret-Token every POST must carry (1-256 of A-Z a-z 0-9 _ -)
    allow_http  tests only: accept an http:// url on any port (Telegram itself refuses those)

    A bad value raises ValueError at construction, naming the environment variable to fix.
    """

    url: str
    secret: SecretStr = field(repr=False)
    listen: str = "127.0.0.1"
    port: int = 8443
    allow_http: bool = False

    def __post_init__(self) -> None:
        problem = webhook_config_problem(self)
        if problem is not None:
            raise ValueError(problem)

    @property
    def path(self) -> str:
        """The URL path the receiver answers on ("/" when the URL has none)."""
        return urlsplit(self.url).path or "/"


def webhook_config_problem(config: WebhookConfig) -> str | None:
    """One line saying what is wrong with `config` and which setting to change, or None."""
    try:
        parts = urlsplit(config.url)
        url_port = parts.port
    except ValueError:
        return f"{ENV}WEBHOOK_URL is not a URL: send e.g. https://bot.example.org/telegram"
    plain_http_allowed = parts.scheme == "http" and config.allow_http  # tests against the stand-in
    if parts.scheme != "https" and not plain_http_allowed:
        return f"{ENV}WEBHOOK_URL must start with https:// (Telegram only posts to HTTPS URLs)"
    if not parts.hostname:
        return f"{ENV}WEBHOOK_URL has no host: send e.g. https://bot.example.org/telegram"
    if not plain_http_allowed and (url_port or 443) not in TELEGRAM_WEBHOOK_PORTS:
        return f"{ENV}WEBHOOK_URL uses port {url_port}: Telegram only posts to ports 443, 80, 88 or 8443"
    if not 0 < config.port < 65536:
        return f"{ENV}WEBHOOK_PORT must be between 1 and 65535, not {config.port}"
    if not config.listen:
        return f"{ENV}WEBHOOK_LISTEN is empty: send an address to bind, e.g. 127.0.0.1"
    if not SECRET_PATTERN.fullmatch(config.secret.get_secret_value()):
        return f"{ENV}WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)"
    return None


def config_from_settings(settings: Any) -> WebhookConfig | None:
    """The webhook config from TelegramSettings' `webhook_*` fields, or None (long polling) when
    `webhook_url` is unset. ValueError, naming the variable, when the values are wrong."""
    url = getattr(settings, "webhook_url", None)
    if not url:
        return None
    secret = getattr(settings, "webhook_secret", None)
    if secret is None or not secret.get_secret_value():
        raise ValueError(
            f"{ENV}WEBHOOK_SECRET is required with {ENV}WEBHOOK_URL: send 1-256 characters of "
            "A-Z, a-z, 0-9, _ and - (e.g. from: openssl rand -hex 32)"
        )
    return WebhookConfig(
        url=url,
        secret=secret,
        listen=getattr(settings, "webhook_listen", "127.0.0.1"),
        port=getattr(settings, "webhook_port", 8443),
        allow_http=getattr(settings, "webhook_allow_http", False),
    )


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the agent keeps Ctrl-C and SIGTERM for itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebhookReceiver:
    """Serves `config.path` for Telegram's POSTs and hands each update to `application`.

    Call `start()` inside the running loop after `application.initialize()` and `application.start()`
    (the Application needs no Updater). `start()` may be called again after a failure: the serving
    step is skipped once done and only setWebhook is retried.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        config: WebhookConfig,
        *,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    ) -> None:
        self.application = application
        self.config = config
        self.allowed_updates = list(allowed_updates)
        self.received = 0  # updates queued so far (for logs and tests)
        self.refused = 0  # POSTs answered 403 or 400
        self._secret = config.secret.get_secret_value().encode()
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        return self._serving is not None and not self._serving.done()

    def asgi_app(self) -> Starlette:
        """The endpoint: POST on the webhook path only (other methods 405, other paths 404)."""
        return Starlette(routes=[Route(self.config.path, self._receive, methods=["POST"])])

    async def start(self) -> None:
        """Serve the endpoint (a task on this loop), then tell Telegram to post there (setWebhook).

        Raises WebhookError when the address cannot be bound; setWebhook errors (NetworkError,
        RetryAfter, BadRequest) come from python-telegram-bot unchanged, so the caller's retry applies.
        """
        if not self.serving:
            await self._serve()
        await self.application.bot.set_webhook(
            self.config.url,
            secret_token=self.config.secret.get_secret_value(),
            allowed_updates=self.allowed_updates,
        )
        log.info("telegram: webhook set; listening on %s:%d", self.config.listen, self.config.port)

    async def _serve(self) -> None:
        # bind first: uvicorn answers a taken port with sys.exit, which must not reach the agent's loop
        sock = self._bind()
        config = uvicorn.Config(
            self.asgi_app(),
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="telegram-webhook")
        self._server, self._serving = server, task  # known at once: a stop() during startup ends it
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event to await
            await asyncio.sleep(0.01)
        if task.done():  # it ended before serving: say why in one line
            sock.close()
            self._server = self._serving = None
            problem = task.exception() if not task.cancelled() else None
            raise WebhookError(f"telegram: the webhook server did not start: {problem!r}")

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.config.listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.listen, self.config.port))
        except OSError as exc:
            sock.close()
            raise WebhookError(
                f"telegram: cannot listen on {self.config.listen}:{self.config.port} ({exc.strerror}); "
                f"change {ENV}WEBHOOK_LISTEN or {ENV}WEBHOOK_PORT"
            ) from exc
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def stop(self) -> None:
        """Stop serving. The webhook stays set at Telegram on purpose: while the agent restarts,
        Telegram keeps the updates queued (retrying delivery for up to a day) and posts them once
        the endpoint answers again; deleteWebhook would leave them undelivered until someone polls.
        (Switching back to polling needs nothing: python-telegram-bot's start_polling deletes it.)"""
        server, task = self._server, self._serving
        self._server = self._serving = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=SHUTDOWN_GRACE_S * 2)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _receive(self, request: Request) -> Response:
        offered = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(offered, self._secret):
            self.refused += 1
            log.warning("telegram: webhook POST with a wrong or missing secret refused (403)")
            return PlainTextResponse("wrong secret token", status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            self.refused += 1
            return PlainTextResponse("body too large", status_code=413)
        update = self._parse(body)
        if update is None:
            self.refused += 1
            return PlainTextResponse("send one Telegram Update as a JSON object", status_code=400)
        await self.application.update_queue.put(update)
        self.received += 1
        return Response(status_code=200)

    def _parse(self, body: bytes) -> Update | None:
        """The Update in `body`, or None (logged) when it is not one."""
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an object with an integer update_id")
            return Update.de_json(data, self.application.bot)
        except Exception as exc:  # any malformed body is the sender's problem: 400, never a crash
            log.warning("telegram: webhook body refused (400): %s", str(exc)[:200])
            return None
