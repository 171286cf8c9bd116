"""The Telegram bot, run inside the agent's own event loop (python-telegram-bot's `Application`
started with initialize/start/updater.start_polling — never `run_polling`, which would take the
loop over). Every update meets the access guard first; then the command, question and approval
handlers the runner passes in. Incident notifications go through `listener` (for
`LoopDeps.listeners`, returns at once) and the `run_notifier` worker.

Telegram being down never stops the agent: `start()` returns at once and connects in the
background, retrying with a growing pause; notifications wait in the backlog until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from telegram import BotCommand
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseHandler

from agent_host.incidents.model import Incident
from agent_host.telegram.webhook import WebhookError, WebhookReceiver, config_from_settings

from .access import GUARD_GROUP, AccessGuard
from .context import BotContext
from .notifications import Notifier, retry_after_seconds

log = logging.getLogger("infraguardian.agent.telegram")

RATE_LIMIT_RETRIES = 3  # AIORateLimiter waits out a 429's retry_after this many times


def file_url(base_url: str) -> str:
    """The Bot API's file URL next to `base_url` (".../bot" → ".../file/bot")."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url


def bot_commands() -> list[BotCommand]:
    """The command menu from `agent_host.telegram.commands.COMMANDS` (empty if it cannot be read)."""
    try:
        from agent_host.telegram.commands import COMMANDS
    except ImportError as exc:
        log.warning("telegram: no command list for the menu: %s", exc)
        return []
    menu = []
    for command in COMMANDS:
        description = command.help.split(" — ", 1)[-1].strip() or command.name
        menu.append(BotCommand(command.name, description[:256]))
    return menu


FINISH_DELIVERY_S = 5.0  # at stop, the longest a delivery in flight may take to finish


class TelegramBot:
    """The bot's Application, its access guard, and the incident notifier."""

    def __init__(
        self,
        ctx: BotContext,
        handlers: Sequence[BaseHandler[Any, Any, Any]],
        *,
        coalesce_s: float = 1.0,
        retry_base_s: float = 1.0,
        retry_max_s: float = 30.0,
    ) -> None:
        self.ctx = ctx
        self.handlers = list(handlers)
        self.notifier = Notifier(
            ctx, coalesce_s=coalesce_s, backoff_base_s=retry_base_s, backoff_max_s=retry_max_s
        )
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.ready = asyncio.Event()  # set once Telegram answered and polling runs
        self._connecting: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()  # set by stop(): run_notifier returns
        self._notifying: asyncio.Task[Any] | None = None  # run_notifier's task, while it runs
        self.webhook: WebhookReceiver | None = None  # webhook mode (settings.webhook_url), else polling

    def _build(self) -> Application[Any, Any, Any, Any, Any, Any]:
        settings = self.ctx.settings
        if settings.token is None:
            raise ValueError("Telegram is off: set INFRAGUARDIAN_AGENT__TELEGRAM__TOKEN")
        app = (
            ApplicationBuilder()
            .token(settings.token.get_secret_value())
            .base_url(settings.base_url)
            .base_file_url(file_url(settings.base_url))
            .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
            .concurrent_updates(True)  # a slow question must not hold up an approval tap
            .build()
        )
        app.add_handler(AccessGuard(self.ctx).handler(), group=GUARD_GROUP)
        app.add_handlers(self.handlers)
        app.add_error_handler(self._on_error)
        return app

    async def start(self) -> None:
        """Build the Application and connect in the background (returns at once)."""
        if self.app is not None:
            return
        self._stopped.clear()
        self.app = self._build()
        webhook = config_from_settings(self.ctx.settings)
        self.webhook = WebhookReceiver(self.app, webhook) if webhook is not None else None
        self._connecting = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        """initialize (getMe), start, start polling, set the command menu; retried while Telegram
        is unreachable. A wrong token is logged and ends the bot (the agent carries on)."""
        assert self.app is not None
        app, pause = self.app, self.retry_base_s
        while True:
            try:  # each stage is skipped once done, so a retry resumes where it failed
                await app.initialize()
                if not app.running:
                    await app.start()
                if self.webhook is not None:
                    await self.webhook.start()  # serves once, then setWebhook; retried like polling
                else:
                    assert app.updater is not None
                    if not app.updater.running:
                        await app.updater.start_polling(
                            timeout=self.ctx.settings.poll_timeout_s, error_callback=self._on_polling_error
                        )
                break
            except WebhookError as exc:
                log.error("%s", exc)
                return
            except InvalidToken:
                log.error("telegram: the bot token was refused; set INFRAGUARDIAN_AGENT__TELEGRAM__TOKEN")
                return
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
            except NetworkError as exc:
                log.warning("telegram: cannot reach the Bot API (%s); retrying in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.retry_max_s)
        self.ready.set()
        log.info("telegram: %s as @%s", "webhook" if self.webhook else "polling", self.app.bot.username)
        try:
            await self.app.bot.set_my_commands(bot_commands())
        except TelegramError as exc:  # the menu is a convenience: commands work without it
            log.warning("telegram: could not set the command menu: %s", exc)

    def _on_polling_error(self, exc: TelegramError) -> None:
        # the updater retries by itself; log once per error instead of a traceback
        log.warning("telegram: polling: %s", exc)

    async def _on_error(self, update: object, context: Any) -> None:
        log.error("telegram: a handler failed: %s", context.error, exc_info=context.error)

    async def stop(self) -> None:
        """Stop polling, end `run_notifier`, close the Application (fetched updates are confirmed)."""
        self._stopped.set()
        if self._notifying is not None:  # the notifier finishes its delivery before the bot closes
            await asyncio.wait({self._notifying}, timeout=FINISH_DELIVERY_S + 1)
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        app, self.app = self.app, None
        self.ready.clear()
        if app is None:
            return
        if self.webhook is not None:
            await self.webhook.stop()
            self.webhook = None
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()  # returns at once when it was never initialized

    def listener(self, incident: Incident, step: str) -> None:
        """For `LoopDeps.listeners`: queue the incident's new state for its notification; never blocks."""
        self.notifier.offer(incident)

    async def run_notifier(self) -> None:
        """The notification worker: waits until Telegram answered once, then delivers until `stop()`
        (or until its task is cancelled). Unfinished incidents are shown again first, so a
        restarted agent brings their messages up to date (edited, never sent twice)."""
        self._notifying = asyncio.current_task()
        for incident in await self.ctx.store.unfinished():
            self.notifier.offer(incident, replace=False)
        stopped = asyncio.create_task(self._stopped.wait())
        work = asyncio.create_task(self._deliver_when_ready())
        try:
            await asyncio.wait({stopped, work}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():  # stopping: let the delivery in flight finish and be remembered
                self.notifier.finish()
                await asyncio.wait({work}, timeout=FINISH_DELIVERY_S)
        finally:
            for task in (stopped, work):
                task.cancel()
            await asyncio.gather(stopped, work, return_exceptions=True)
        if work.done() and not work.cancelled() and (problem := work.exception()) is not None:
            raise problem

    async def _deliver_when_ready(self) -> None:
        await self.ready.wait()
        assert self.app is not None
        await self.notifier.run(self.app.bot)
