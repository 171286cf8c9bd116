"""The real python-telegram-bot pointed at the `telegram_standin` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from standins.telegram import TelegramStandIn

OWNER = 4242  # a private chat's id is its user's id
GROUP = -100777  # a supergroup


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def bot(telegram_standin: TelegramStandIn) -> AsyncIterator[Bot]:
    async with Bot(telegram_standin.token, base_url=telegram_standin.base_url) as started:
        yield started
