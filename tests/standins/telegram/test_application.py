"""A python-telegram-bot `Application` polling the stand-in from inside an asyncio loop (not
`run_polling`): it receives a command and a button press played by the test, answers them, keeps
to a lowered flood limit through `AIORateLimiter`, and recovers when the Bot API comes back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
)

from standins.telegram import TelegramStandIn

from .conftest import GROUP, OWNER

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


@asynccontextmanager
async def polling(standin: TelegramStandIn, handlers: Sequence[BaseHandler]) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """An Application started the way the agent will: initialize, start, updater.start_polling."""
    app = (
        ApplicationBuilder()
        .token(standin.token)
        .base_url(standin.base_url)
        .base_file_url(standin.base_file_url)
        .build()
    )
    app.add_handlers(handlers)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1)  # short long polls: stopping is quick
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Restart api", callback_data="restart:api")]])
    await update.message.reply_text(
        f"<b>All services up</b> ({' '.join(context.args or []) or 'all'})",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer("Restarting")
    await query.edit_message_text(f"Restarting {query.data.split(':')[1]}…")


async def test_a_command_and_a_button_press_are_answered(telegram_standin: TelegramStandIn) -> None:
    handlers = [CommandHandler("status", status), CallbackQueryHandler(button)]
    async with polling(telegram_standin, handlers):
        telegram_standin.send_text(OWNER, OWNER, "/status granada", username="owner")
        [reply] = await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        assert reply.text == "All services up (granada)"
        assert reply.buttons == [[("Restart api", "restart:api")]]
        query_id = telegram_standin.press_button(OWNER, OWNER, reply.message_id, "restart:api")
        await telegram_standin.wait_for(lambda: telegram_standin.callback_answers)
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER)[0].text.startswith("Restarting"))
    [answer] = telegram_standin.callback_answers
    assert (answer.callback_query_id, answer.text) == (query_id, "Restarting")
    [edited] = telegram_standin.sent(OWNER)
    assert (edited.message_id, edited.text, edited.buttons) == (reply.message_id, "Restarting api…", [])
    # stopping confirmed what was fetched: a restarted bot would not see these updates again
    assert telegram_standin.pending_updates() == []


async def test_the_rate_limiter_keeps_to_a_lowered_group_limit(telegram_standin: TelegramStandIn) -> None:
    telegram_standin.set_flood_limits(chat_per_second=2, chat_burst=2)
    limiter = AIORateLimiter(group_max_rate=2, group_time_period=1)
    async with ExtBot(
        telegram_standin.token, base_url=telegram_standin.base_url, rate_limiter=limiter
    ) as bot:
        sent = await asyncio.gather(*(bot.send_message(GROUP, f"part {n}") for n in range(6)))
    assert len({m.message_id for m in sent}) == 6
    assert [r.status for r in telegram_standin.calls("sendMessage")] == [200] * 6
    # the same burst without the limiter is refused: the limit above was really in force
    async with ExtBot(telegram_standin.token, base_url=telegram_standin.base_url) as bare:
        with pytest.raises(RetryAfter):
            await asyncio.gather(*(bare.send_message(GROUP, f"burst {n}") for n in range(3)))


async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text("pong")


async def test_the_updater_recovers_when_the_bot_api_comes_back(telegram_standin: TelegramStandIn) -> None:
    async with polling(telegram_standin, [CommandHandler("ping", ping)]) as app:
        telegram_standin.send_text(OWNER, OWNER, "/ping")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        await asyncio.to_thread(telegram_standin.down)
        with pytest.raises(NetworkError):
            await app.bot.send_message(OWNER, "nobody hears this")
        telegram_standin.send_text(OWNER, OWNER, "/ping")  # queued while Telegram is unreachable
        await asyncio.sleep(1.5)  # the updater meets refused connections and backs off
        assert len(telegram_standin.sent(OWNER)) == 1
        await asyncio.to_thread(telegram_standin.up)
        await telegram_standin.wait_for(lambda: len(telegram_standin.sent(OWNER)) == 2, within=30)
    assert [m.text for m in telegram_standin.sent(OWNER)] == ["pong", "pong"]
