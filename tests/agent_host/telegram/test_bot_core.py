"""The bot core against the Telegram stand-in with the real python-telegram-bot: an allowed user's
command reaches its handler; any other user or chat gets a polite refusal and an audit row, and
its command or button never runs; Telegram down at start does not hold the agent up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from agent_host.telegram.access import REFUSAL
from agent_host.telegram.bot import TelegramBot
from agent_host.telegram.context import BotContext
from standins.telegram import TelegramStandIn

from .conftest import GROUP, OWNER, STRANGER, running_bot

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]
OTHER_GROUP = -100555  # a group nobody allowed


class Recorder:
    """Handlers that note who reached them and answer."""

    def __init__(self) -> None:
        self.ran: list[tuple[int, int, str]] = []

    async def ping(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat and update.effective_user and update.message
        self.ran.append((update.effective_chat.id, update.effective_user.id, "ping"))
        await update.message.reply_text("pong")

    async def press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat and update.effective_user and update.callback_query
        self.ran.append((update.effective_chat.id, update.effective_user.id, "press"))
        await update.callback_query.answer("done")

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        return [CommandHandler("ping", self.ping), CallbackQueryHandler(self.press)]


async def test_an_allowed_user_reaches_the_handlers_in_a_private_chat_and_a_group(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    recorder = Recorder()
    async with running_bot(bot_context, recorder.handlers()):
        telegram_standin.send_text(OWNER, OWNER, "/ping")
        telegram_standin.send_text(GROUP, OWNER, "/ping")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
    assert sorted(recorder.ran) == sorted([(OWNER, OWNER, "ping"), (GROUP, OWNER, "ping")])
    assert [m.text for m in telegram_standin.sent(OWNER)] == ["pong"]
    assert await bot_context.outbox.audit_rows() == []  # nothing was refused


async def test_strangers_and_other_chats_are_refused_politely_audited_and_never_obeyed(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    recorder = Recorder()
    async with running_bot(bot_context, recorder.handlers()) as bot:
        assert bot.app is not None
        question = await bot.app.bot.send_message(GROUP, "Approve?")  # a message with buttons to tap
        telegram_standin.send_text(STRANGER, STRANGER, "/ping")  # a stranger's private chat
        telegram_standin.send_text(GROUP, STRANGER, "/ping")  # a stranger in an allowed group
        telegram_standin.send_text(OTHER_GROUP, OWNER, "/ping")  # the owner, in a chat not allowed
        query_id = telegram_standin.press_button(GROUP, STRANGER, question.message_id, "ap:deadbeef:n0nce:a")
        await telegram_standin.wait_for(
            lambda: (
                telegram_standin.sent(STRANGER)
                and len(telegram_standin.sent(GROUP)) == 2
                and telegram_standin.sent(OTHER_GROUP)
                and telegram_standin.callback_answers
            )
        )
    assert recorder.ran == []
    for chat in (STRANGER, OTHER_GROUP):
        assert [m.text for m in telegram_standin.sent(chat)] == [REFUSAL]
    assert [m.text for m in telegram_standin.sent(GROUP)] == ["Approve?", REFUSAL]
    [answer] = telegram_standin.callback_answers
    assert (answer.callback_query_id, answer.text) == (query_id, REFUSAL)
    audit = await bot_context.outbox.audit_rows()
    assert sorted((r["chat_id"], r["user_id"], r["what"], r["allowed"]) for r in audit) == sorted(
        [
            (STRANGER, STRANGER, "/ping", False),
            (GROUP, STRANGER, "/ping", False),
            (OTHER_GROUP, OWNER, "/ping", False),
            (GROUP, STRANGER, "button ap:deadbeef:n0nce:a", False),
        ]
    )


async def test_a_stranger_insisting_is_audited_every_time_but_refused_once_a_minute(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    async with running_bot(bot_context, Recorder().handlers()):
        for _ in range(3):
            telegram_standin.send_text(STRANGER, STRANGER, "/ping")
        for _ in range(400):  # the three updates are audited (20 s at most)
            if len(await bot_context.outbox.audit_rows()) == 3:
                break
            await asyncio.sleep(0.05)
        await telegram_standin.wait_for(lambda: telegram_standin.sent(STRANGER))
    assert len(await bot_context.outbox.audit_rows()) == 3
    assert [m.text for m in telegram_standin.sent(STRANGER)] == [REFUSAL]


async def test_telegram_down_at_start_does_not_hold_the_agent_and_the_bot_connects_later(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    recorder = Recorder()
    await asyncio.to_thread(telegram_standin.down)
    bot = TelegramBot(bot_context, recorder.handlers(), retry_base_s=0.2, retry_max_s=0.5)
    try:
        await asyncio.wait_for(bot.start(), timeout=2)  # returns at once; connects in the background
        await asyncio.sleep(1.0)  # a few refused connections
        assert not bot.ready.is_set()
        telegram_standin.send_text(OWNER, OWNER, "/ping")  # queued while Telegram is unreachable
        await asyncio.to_thread(telegram_standin.up)
        await asyncio.wait_for(bot.ready.wait(), timeout=30)
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
    finally:
        await bot.stop()
    assert recorder.ran == [(OWNER, OWNER, "ping")]


async def test_the_command_menu_is_the_command_list(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    from agent_host.telegram.commands import COMMANDS

    async with running_bot(bot_context, []):
        menu = await telegram_standin.wait_for(telegram_standin.commands)
    assert [entry["command"] for entry in menu] == [command.name for command in COMMANDS]
    assert all(0 < len(entry["description"]) <= 256 for entry in menu)


def test_settings_come_from_the_agents_environment_variables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_host.settings import AgentSettings

    monkeypatch.setenv("TOKEN", "a-shell-variable-that-is-not-ours")
    monkeypatch.setenv("NOTIFY", "false")
    assert AgentSettings().telegram.token is None
    assert not AgentSettings().telegram.enabled  # no token, no chat: Telegram is off
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__TOKEN", "123:abc")
    assert not AgentSettings().telegram.enabled  # a token but no chat to obey or notify
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_CHAT_IDS", "[4242, -100777]")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__ALLOWED_USER_IDS", "[4242]")
    monkeypatch.setenv("INFRAGUARDIAN_AGENT__TELEGRAM__BASE_URL", "http://127.0.0.1:8081/bot")
    telegram = AgentSettings().telegram
    assert telegram.enabled and telegram.notify
    assert telegram.token is not None and telegram.token.get_secret_value() == "123:abc"
    assert (telegram.allowed_chat_ids, telegram.allowed_user_ids) == ([4242, -100777], [4242])
    assert telegram.base_url == "http://127.0.0.1:8081/bot"
    assert "123:abc" not in repr(telegram)


def test_allowed_needs_an_allowed_chat_and_if_listed_an_allowed_user(bot_context: BotContext) -> None:
    assert bot_context.allowed(OWNER, OWNER) and bot_context.allowed(GROUP, OWNER)
    assert not bot_context.allowed(GROUP, STRANGER) and not bot_context.allowed(OTHER_GROUP, OWNER)
    bot_context.settings.allowed_user_ids = []  # then any member of an allowed chat
    assert bot_context.allowed(GROUP, STRANGER) and not bot_context.allowed(OTHER_GROUP, STRANGER)


async def test_a_wrong_token_ends_the_bot_quietly_and_the_agent_goes_on(
    telegram_standin: TelegramStandIn, bot_context: BotContext, caplog: pytest.LogCaptureFixture
) -> None:
    bot_context.settings.token = SecretStr("123456:not-the-token")
    bot = TelegramBot(bot_context, Recorder().handlers(), retry_base_s=0.2, retry_max_s=0.5)
    try:
        await bot.start()
        assert bot._connecting is not None
        await asyncio.wait_for(bot._connecting, timeout=20)  # it gives up instead of retrying for ever
        assert not bot.ready.is_set()
    finally:
        await bot.stop()
    assert "the bot token was refused" in caplog.text
    assert "not-the-token" not in caplog.text
