"""Shared fixtures of the Telegram tests: a `BotContext` on a fresh SQLite database (incident store,
approval book, outbox) whose settings point at the `telegram_standin` fixture, and `running_bot`,
a started TelegramBot for one test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import BaseHandler

from agent_host.approvals.book import ApprovalBook
from agent_host.incidents.database import Database
from agent_host.incidents.store import IncidentStore
from agent_host.telegram.bot import TelegramBot
from agent_host.telegram.context import BotContext
from agent_host.telegram.outbox import Outbox
from agent_host.telegram.settings import TelegramSettings
from standins.telegram import TelegramStandIn

OWNER = 4242  # the allowed user; a private chat's id is its user's id
GROUP = -100777  # an allowed group chat
STRANGER = 999  # neither an allowed chat nor an allowed user


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(sqlite_path=tmp_path / "agent.db")
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def telegram_settings(telegram_standin: TelegramStandIn) -> TelegramSettings:
    """Settings for the stand-in: OWNER's private chat and GROUP allowed, only OWNER obeyed."""
    return TelegramSettings(
        token=SecretStr(telegram_standin.token),
        base_url=telegram_standin.base_url,
        allowed_chat_ids=[OWNER, GROUP],
        allowed_user_ids=[OWNER],
        poll_timeout_s=1,  # short long polls: stopping the bot is quick
    )


@pytest.fixture
def bot_context(database: Database, telegram_settings: TelegramSettings) -> BotContext:
    """A BotContext with no MCP link and no model; give it a `link` or `decider` in the test if needed."""
    return BotContext(
        settings=telegram_settings,
        link=None,
        store=IncidentStore(database),
        approvals=ApprovalBook(database),
        decider=None,
        outbox=Outbox(database),
    )


@asynccontextmanager
async def running_bot(
    ctx: BotContext, handlers: Sequence[BaseHandler[Any, Any, Any]] = (), **options: Any
) -> AsyncIterator[TelegramBot]:
    """A started TelegramBot polling the stand-in (ready: Telegram answered), stopped afterwards.
    `options` go to TelegramBot (e.g. coalesce_s=0.2, retry_base_s=0.2, retry_max_s=1)."""
    bot = TelegramBot(ctx, handlers, **options)
    await bot.start()
    try:
        await asyncio.wait_for(bot.ready.wait(), timeout=30)
        yield bot
    finally:
        await bot.stop()
