"""Webhook mode: the Telegram stand-in POSTs updates to the agent's WebhookReceiver, which queues them
for a real python-telegram-bot Application (started inside the test's loop, no Updater)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from agent_host.telegram.webhook import (
    SECRET_HEADER,
    WebhookConfig,
    WebhookError,
    WebhookReceiver,
    config_from_settings,
)
from standins.fixtures import serve_for_one_test
from standins.telegram import TelegramStandIn

from .conftest import OWNER

pytestmark = pytest.mark.anyio

SECRET = "hook-Secret_42"


@pytest.fixture
def standin() -> Iterator[TelegramStandIn]:
    """The stand-in with http webhooks allowed: the receiver listens on plain http on localhost."""
    yield from serve_for_one_test(TelegramStandIn(allow_http_webhooks=True), "Telegram stand-in: crashed:")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_config(port: int, secret: str = SECRET) -> WebhookConfig:
    return WebhookConfig(
        url=f"http://127.0.0.1:{port}/telegram/hook",
        secret=SecretStr(secret),
        listen="127.0.0.1",
        port=port,
        allow_http=True,
    )


class PingBot:
    """/ping answers "pong <args>" and records every text it handled."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def ping(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        self.handled.append(update.effective_message.text)
        await update.effective_message.reply_text("pong " + " ".join(context.args or []))


@asynccontextmanager
async def started_app(
    standin: TelegramStandIn, bot: PingBot
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = (
        ApplicationBuilder()
        .token(standin.token)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .updater(None)
        .build()
    )
    app.add_handler(CommandHandler("ping", bot.ping))
    await app.initialize()
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await app.shutdown()


@asynccontextmanager
async def receiving(
    app: Application[Any, Any, Any, Any, Any, Any], config: WebhookConfig
) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(app, config)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


def replies(standin: TelegramStandIn) -> list[str]:
    return [m.text for m in standin.sent(OWNER) if m.text is not None]


async def test_a_command_sent_through_telegram_reaches_the_handler_by_webhook(
    standin: TelegramStandIn,
) -> None:
    bot, config = PingBot(), local_config(free_port())
    async with started_app(standin, bot) as app, receiving(app, config) as receiver:
        hook = standin.webhook
        assert hook is not None and hook["url"] == config.url and hook["secret_token"] == SECRET
        assert hook["allowed_updates"] == ["message", "edited_message", "callback_query"]
        standin.send_text(OWNER, OWNER, "/ping one")
        standin.send_text(OWNER, OWNER, "/ping two")
        await standin.wait_for(lambda: len(replies(standin)) == 2)
        assert replies(standin) == ["pong one", "pong two"]
        assert bot.handled == ["/ping one", "/ping two"] and receiver.received == 2
        await standin.wait_for(lambda: standin.pending_updates() == [])  # confirmed by the 200s
        assert not standin.calls("getUpdates")  # nothing polled


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_handled(standin: TelegramStandIn) -> None:
    bot, config = PingBot(), local_config(free_port())
    forged = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": OWNER, "type": "private"},
              "from": {"id": OWNER, "is_bot": False, "first_name": "Eve"}, "text": "/ping forged",
              "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}  # fmt: skip
    async with started_app(standin, bot) as app, receiving(app, config) as receiver:
        async with httpx.AsyncClient(timeout=10) as client:
            wrong = await client.post(config.url, json=forged, headers={SECRET_HEADER: "hook-Secret_43"})
            missing = await client.post(config.url, json=forged)
            longer = await client.post(config.url, json=forged, headers={SECRET_HEADER: SECRET + "x"})
        assert (wrong.status_code, missing.status_code, longer.status_code) == (403, 403, 403)
        # updates are handled in order: once the genuine one is answered, a queued forgery would have been too
        standin.send_text(OWNER, OWNER, "/ping genuine")
        await standin.wait_for(lambda: replies(standin))
        assert bot.handled == ["/ping genuine"] and replies(standin) == ["pong genuine"]
        assert receiver.refused == 3 and receiver.received == 1


async def test_malformed_bodies_get_400_and_the_receiver_keeps_working(standin: TelegramStandIn) -> None:
    bot, config = PingBot(), local_config(free_port())
    good = {SECRET_HEADER: SECRET}
    async with started_app(standin, bot) as app, receiving(app, config) as receiver:
        async with httpx.AsyncClient(timeout=10) as client:
            statuses = [
                (await client.post(config.url, content=b"{not json", headers=good)).status_code,
                (await client.post(config.url, json=[1, 2], headers=good)).status_code,
                (await client.post(config.url, json={"message": {}}, headers=good)).status_code,
                (await client.post(config.url, json={"update_id": "7"}, headers=good)).status_code,
                (
                    await client.post(config.url, json={"update_id": 7, "message": {"x": 1}}, headers=good)
                ).status_code,
                (await client.post(config.url, content=b"\xff\xfe", headers=good)).status_code,
                (await client.post(config.url, content=b" " * 1_000_001, headers=good)).status_code,
                (await client.get(config.url, headers=good)).status_code,
                (await client.post(config.url.replace("/hook", "/other"), json={}, headers=good)).status_code,
            ]
        assert statuses == [400, 400, 400, 400, 400, 400, 413, 405, 404]
        assert receiver.received == 0
        standin.send_text(OWNER, OWNER, "/ping still")
        await standin.wait_for(lambda: replies(standin))
        assert replies(standin) == ["pong still"]


async def test_stop_ends_serving_and_keeps_the_webhook_so_updates_wait_for_the_restart(
    standin: TelegramStandIn,
) -> None:
    bot, config = PingBot(), local_config(free_port())
    async with started_app(standin, bot) as app:
        receiver = WebhookReceiver(app, config)
        await receiver.start()
        assert receiver.serving
        await receiver.stop()
        assert not receiver.serving
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(httpx.ConnectError):
                await client.post(config.url, json={}, headers={SECRET_HEADER: SECRET})
        assert standin.webhook is not None  # still set: Telegram keeps queueing
        standin.send_text(OWNER, OWNER, "/ping while down")
        await standin.wait_for(
            lambda: (standin.webhook or {}).get("last_error_message") == "Connection refused"
        )
        assert bot.handled == [] and len(standin.pending_updates()) == 1
        async with receiving(app, config):  # the agent is back: the queued update arrives
            await standin.wait_for(lambda: replies(standin), within=30)
        assert replies(standin) == ["pong while down"]


async def test_a_taken_port_is_one_clear_error(standin: TelegramStandIn) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = local_config(int(taken.getsockname()[1]))
        async with started_app(standin, PingBot()) as app:
            receiver = WebhookReceiver(app, config)
            with pytest.raises(WebhookError, match="INFRAGUARDIAN_AGENT__TELEGRAM__WEBHOOK_PORT"):
                await receiver.start()
            assert not receiver.serving and standin.webhook is None  # Telegram was not told


@pytest.mark.parametrize(
    ("url", "secret", "port", "setting"),
    [
        ("http://bot.example.org/hook", SECRET, 8443, "WEBHOOK_URL must start with https://"),
        ("https://bot.example.org:9443/hook", SECRET, 8443, "WEBHOOK_URL uses port 9443"),
        ("bot.example.org/hook", SECRET, 8443, "WEBHOOK_URL must start with https://"),
        ("https:///hook", SECRET, 8443, "WEBHOOK_URL has no host"),
        ("https://bot.example.org:99999/hook", SECRET, 8443, "WEBHOOK_URL is not a URL"),
        ("https://bot.example.org/hook", "has spaces", 8443, "WEBHOOK_SECRET must be"),
        ("https://bot.example.org/hook", "", 8443, "WEBHOOK_SECRET must be"),
        ("https://bot.example.org/hook", "x" * 257, 8443, "WEBHOOK_SECRET must be"),
        ("https://bot.example.org/hook", SECRET, 0, "WEBHOOK_PORT must be between 1 and 65535"),
    ],
)
def test_a_bad_config_names_the_setting_to_fix(url: str, secret: str, port: int, setting: str) -> None:
    with pytest.raises(ValueError, match=f"^INFRAGUARDIAN_AGENT__TELEGRAM__{setting}"):
        WebhookConfig(url=url, secret=SecretStr(secret), port=port)


def test_good_configs_are_accepted_and_the_secret_is_not_shown() -> None:
    for url in ("https://bot.example.org/tg", "https://bot.example.org:8443/", "https://b.example.org:88"):
        config = WebhookConfig(url=url, secret=SecretStr(SECRET))
        assert SECRET not in repr(config)
    assert WebhookConfig(url="https://b.example.org", secret=SecretStr(SECRET)).path == "/"
    local = WebhookConfig(url="http://127.0.0.1:5000/x", secret=SecretStr(SECRET), allow_http=True)
    assert local.path == "/x"


def test_settings_without_a_webhook_url_mean_polling_and_a_url_needs_a_secret() -> None:
    assert config_from_settings(SimpleNamespace(token="t")) is None  # no webhook fields at all
    assert config_from_settings(SimpleNamespace(webhook_url=None, webhook_secret=None)) is None
    with pytest.raises(ValueError, match=r"^INFRAGUARDIAN_AGENT__TELEGRAM__WEBHOOK_SECRET is required"):
        config_from_settings(SimpleNamespace(webhook_url="https://bot.example.org/tg", webhook_secret=None))
    settings = SimpleNamespace(
        webhook_url="https://bot.example.org/tg",
        webhook_secret=SecretStr(SECRET),
        webhook_listen="0.0.0.0",
        webhook_port=9000,
    )
    config = config_from_settings(settings)
    assert config is not None and (config.url, config.listen, config.port) == (
        settings.webhook_url,
        "0.0.0.0",
        9000,
    )
    assert config.secret.get_secret_value() == SECRET and not config.allow_http
    with pytest.raises(ValueError, match="WEBHOOK_URL must start with https://"):
        config_from_settings(
            SimpleNamespace(webhook_url="http://bot.example.org/tg", webhook_secret=SecretStr(SECRET))
        )


async def test_the_agents_bot_in_webhook_mode_answers_commands_and_never_polls(
    standin: TelegramStandIn, bot_context: Any
) -> None:
    """TelegramBot as the agent runs it, switched to webhook mode by its settings alone."""
    from agent_host.telegram.bot import TelegramBot
    from agent_host.telegram.commands import command_handlers

    port = free_port()
    bot_context.settings = bot_context.settings.model_copy(
        update={
            "token": SecretStr(standin.token), "base_url": standin.base_url,
            "webhook_url": f"http://127.0.0.1:{port}/tg", "webhook_port": port,
            "webhook_secret": SecretStr(SECRET), "webhook_allow_http": True,
        }
    )  # fmt: skip
    bot = TelegramBot(bot_context, command_handlers(bot_context))
    await bot.start()
    try:
        await standin.wait_for(lambda: bot.ready.is_set())
        assert standin.webhook is not None and standin.webhook["url"] == f"http://127.0.0.1:{port}/tg"
        standin.send_text(OWNER, OWNER, "/help")
        help_text = await standin.wait_for(
            lambda: next((t for t in replies(standin) if "/restart" in t), None)
        )
        assert "/mute" in help_text
        standin.send_text(999, 999, "/help")  # a stranger in their own chat: refused by the guard
        refusal = await standin.wait_for(lambda: next((m.text for m in standin.sent(999) if m.text), None))
        assert "/restart" not in refusal
        assert not standin.calls("getUpdates")
    finally:
        await bot.stop()


def test_settings_with_a_bad_webhook_fail_at_startup_naming_the_variable() -> None:
    from agent_host.telegram.settings import TelegramSettings

    with pytest.raises(ValueError, match="INFRAGUARDIAN_AGENT__TELEGRAM__WEBHOOK_SECRET"):
        TelegramSettings(webhook_url="https://bot.example.org/tg")
    with pytest.raises(ValueError, match="WEBHOOK_URL"):
        TelegramSettings(webhook_url="http://bot.example.org/tg", webhook_secret=SecretStr(SECRET))
