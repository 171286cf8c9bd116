"""Incident notifications: one message per incident per allowed chat, edited as the incident moves
(opened → action → verified or escalated), never a flood.

The agent's loop calls `Notifier.offer(incident)` after every step; it only keeps the newest state
of each incident in memory and wakes the worker, so the loop never waits on Telegram. The worker
(`Notifier.run`) waits `coalesce_s` for more steps, renders each incident's newest state once and
sends it, or edits the message the outbox remembers (also one sent before a restart). A muted
target is skipped. Telegram's 429 is waited out for its `retry_after`; network errors are retried
with a growing pause while the backlog keeps only each incident's newest state.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from agent_host.incidents.model import Incident, now

from .context import BotContext
from .render import incident_text, split_message, utf16_len

log = logging.getLogger("infraguardian.agent.telegram")

MESSAGE_LIMIT = 4000
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def retry_after_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait (PTB 22 gives an int or a timedelta, with a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def message_hash(text: str, markup: InlineKeyboardMarkup | None) -> str:
    """What a message shows (text and buttons): an unchanged one is not edited again."""
    buttons = json.dumps(markup.to_dict(), sort_keys=True) if markup is not None else ""
    return hashlib.sha256(f"{text}\x00{buttons}".encode()).hexdigest()[:16]


class Notifier:
    """The backlog of incident states to show, and the worker that shows them."""

    def __init__(
        self,
        ctx: BotContext,
        *,
        coalesce_s: float = 1.0,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 30.0,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._ctx = ctx
        self.coalesce_s = coalesce_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._clock = clock
        self._pending: dict[str, Incident] = {}  # incident id → its newest state, oldest first
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finishing = False  # finish(): end after the delivery in flight, never in its middle

    @property
    def backlog(self) -> int:
        """Incidents waiting to be shown."""
        return len(self._pending)

    def offer(self, incident: Incident, *, replace: bool = True) -> None:
        """Remember the incident's newest state and wake the worker; returns at once (any thread).
        With `replace=False` a state already waiting is kept (it is newer)."""
        if not self._ctx.settings.notify or (not replace and incident.id in self._pending):
            return
        self._pending[incident.id] = incident.model_copy(deep=True)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop:
            self._loop.call_soon_threadsafe(self._wakeup.set)
        else:
            self._wakeup.set()

    def finish(self) -> None:
        """Make `run` return once the delivery in flight is done: a message sent but not yet
        remembered would be sent again by the next start."""
        self._finishing = True
        self._wakeup.set()

    async def run(self, bot: Bot) -> None:
        """Deliver the backlog until `finish()` (or the task is cancelled)."""
        self._loop = asyncio.get_running_loop()
        self._finishing = False
        backoff = self.backoff_base_s
        while not self._finishing:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                if self._finishing:
                    return
                await asyncio.sleep(self.coalesce_s)  # rapid steps of one incident become one edit
            if not self._pending:
                continue
            incident_id = next(iter(self._pending))
            incident = self._pending.pop(incident_id)
            try:
                await self.deliver(bot, incident)
                backoff = self.backoff_base_s
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                log.warning("telegram: flood control, waiting %.0f s as Telegram asked", wait)
                self._put_back(incident)
                await asyncio.sleep(wait)
            except Forbidden as exc:  # the bot was removed from a chat: nothing to retry
                log.warning("telegram: cannot notify about %s: %s", incident.id, exc)
            except BadRequest as exc:  # our message was refused as is: retrying cannot help
                log.error("telegram: Telegram refused the notification of %s: %s", incident.id, exc)
            except NetworkError as exc:  # Telegram unreachable or timing out: keep it, retry later
                log.warning(
                    "telegram: notification of %s not delivered (%s); retrying in %.0f s",
                    incident.id,
                    exc,
                    backoff,
                )
                self._put_back(incident)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
            except Exception:  # a bug or a database error must not end notifications for good
                log.exception("telegram: notification of %s failed", incident.id)

    def _put_back(self, incident: Incident) -> None:
        """Retry this state first, unless a newer state of the incident arrived meanwhile."""
        if incident.id not in self._pending:
            self._pending = {incident.id: incident, **self._pending}

    async def deliver(self, bot: Bot, incident: Incident) -> None:
        """Show this state of the incident in every allowed chat: edit the incident's message there,
        or send it the first time. Telegram's errors are raised for `run` to handle."""
        outbox = self._ctx.outbox
        if await outbox.muted(incident.target_key, self._clock()):
            log.info("telegram: %s is muted; %s not shown", incident.target_key, incident.id)
            return
        text, markup = await self.render(incident)
        digest = message_hash(text, markup)
        for chat_id in self._ctx.settings.allowed_chat_ids:
            if await outbox.text_hash_for(incident.id, chat_id) == digest:
                continue  # that chat already shows exactly this
            message_id = await outbox.message_for(incident.id, chat_id)
            if message_id is not None and await self._edit(bot, chat_id, message_id, text, markup):
                await outbox.remember_message(incident.id, chat_id, message_id, digest)
                continue
            sent = await bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup, link_preview_options=NO_PREVIEW
            )
            await outbox.remember_message(incident.id, chat_id, sent.message_id, digest)

    async def _edit(
        self, bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """Edit the incident's message; False when it is gone (deleted by someone): send a new one."""
        try:
            await bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:
            problem = str(exc).lower()
            if "not modified" in problem:
                return True
            if "not found" in problem or "can't be edited" in problem:
                return False
            raise
        return True

    async def render(self, incident: Incident) -> tuple[str, InlineKeyboardMarkup | None]:
        """The incident's message, with the approval question and its buttons while one is pending."""
        text = incident_text(incident)
        if incident.status != "awaiting_approval" or self._ctx.approvals is None:
            return text, None
        try:  # imported here: the approvals module imports this package's context
            approvals: Any = importlib.import_module("agent_host.telegram.approvals")
        except ImportError:
            return text, None
        request = await approvals.pending_request(self._ctx, incident)
        if request is None:
            return text, None
        question = approvals.approval_text(request)
        room = max(500, MESSAGE_LIMIT - utf16_len(question) - 2)
        head = split_message(text, room)[0]
        return split_message(f"{head}\n\n{question}", MESSAGE_LIMIT)[0], approvals.approval_keyboard(request)
