"""pytest plugin: the `telegram_standin` fixture.

Registered in the top-level `tests/conftest.py` (`pytest_plugins`, which pytest only honours there).
Each test gets a fresh, started stand-in with Telegram's default flood limits: point the bot at
`telegram_standin.base_url` with `telegram_standin.token`, play the user with `.send_text(...)` and
`.press_button(...)`, read `.sent()`, `.edits`, `.callback_answers`, `.requests`. At teardown the
test FAILS if the stand-in itself crashed on a request (it answered 500).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ..fixtures import serve_for_one_test

if TYPE_CHECKING:
    from .server import TelegramStandIn


@pytest.fixture
def telegram_standin() -> Iterator[TelegramStandIn]:
    """A running Telegram Bot API stand-in (`.base_url`, `.token`, `.send_text`, `.sent()`, `.down()`)."""
    from .server import TelegramStandIn  # imported here: test sessions that never use it skip uvicorn & co

    yield from serve_for_one_test(TelegramStandIn(), "Telegram stand-in: crashed:")
