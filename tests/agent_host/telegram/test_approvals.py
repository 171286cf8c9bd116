"""Approval buttons with the real python-telegram-bot against the Telegram stand-in and a real
ApprovalBook on SQLite: Approve and Deny answer the request as telegram:<user> and remove the
buttons; Wait keeps them; a second tap, a stale button, an expired request or a stranger's tap
only get an answer and change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from telegram import Bot
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder

from agent_host.approvals.book import ApprovalRequest, approval_id, plan_hash
from agent_host.incidents.model import Incident, now
from agent_host.telegram.approvals import (
    CALLBACK_LIMIT,
    NOT_ALLOWED,
    STALE,
    approval_handlers,
    approval_keyboard,
    approval_text,
    callback_data,
    pending_request,
)
from agent_host.telegram.context import BotContext
from standins.telegram import TelegramStandIn

from .conftest import GROUP, OWNER, STRANGER, running_bot

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]

PLAN = [{"tool": "set_memory_limit", "arguments": {"service": "api", "memory": "64m"}}]
CHANGE = "set_memory_limit api: memory 32m → 64m (1 container(s))"


async def waiting_incident(
    ctx: BotContext, *, expires_in_s: float = 900, plan: Any = None
) -> ApprovalRequest:
    """An OOM incident awaiting approval of PLAN, and its request in the book."""
    plan = plan or PLAN
    incident = Incident(
        id="inc-oom-1",
        fingerprint="oom:api",
        target={"app_name": "shop", "service": "api", "container": "shop-api-1"},
        target_key="service:local/shop/api",
        kind="oom_killed",
        severity="critical",
        summary="api was OOM-killed <twice> & restarted",
        status="awaiting_approval",
        plan=plan,
    )
    await ctx.store.save(incident)
    digest = plan_hash(plan)
    assert ctx.approvals is not None
    return await ctx.approvals.ask(
        ApprovalRequest(
            id=approval_id(incident.id, digest),
            incident_id=incident.id,
            title="raise-memory-limit on service:local/shop/api",
            changes=[CHANGE],
            blast_radius=["service:local/shop/web"],
            reasons=["OOM-killed 2 times; password=hunter2 in the env"],
            plan_hash=digest,
            expires_at=now() + timedelta(seconds=expires_in_s),
        )
    )


async def show(bot: Bot, request: ApprovalRequest, chat_id: int = OWNER) -> int:
    """Send the approval message the way the notifier does; returns its message id."""
    sent = await bot.send_message(
        chat_id, approval_text(request), parse_mode=ParseMode.HTML, reply_markup=approval_keyboard(request)
    )
    return sent.message_id


async def tap(standin: TelegramStandIn, chat_id: int, user_id: int, message_id: int, data: str) -> str:
    """Press a button and wait for the bot's answer to that tap; returns the answer's text."""
    query_id = standin.press_button(chat_id, user_id, message_id, data)
    answers = await standin.wait_for(
        lambda: [a for a in standin.callback_answers if a.callback_query_id == query_id], within=30
    )
    return str(answers[0].text)


def buttons(standin: TelegramStandIn, chat_id: int, message_id: int) -> list[str]:
    message = standin.message(chat_id, message_id)
    assert message is not None
    rows = (message.reply_markup or {}).get("inline_keyboard") or []
    return [button["callback_data"] for row in rows for button in row]


async def test_the_question_shows_the_exact_change_escaped_and_redacted(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    request = await waiting_incident(bot_context)
    text = approval_text(request)
    assert "memory 32m → 64m" in text and "service:local/shop/web" in text
    assert "hunter2" not in text  # secrets redacted
    async with running_bot(bot_context, approval_handlers(bot_context)) as bot:
        assert bot.app is not None
        message_id = await show(bot.app.bot, request)
    shown = telegram_standin.message(OWNER, message_id)
    assert shown is not None and CHANGE in shown.text  # Telegram parsed our HTML
    assert buttons(telegram_standin, OWNER, message_id) == [callback_data(request, c) for c in "adw"]
    incident = await bot_context.store.get(request.incident_id)
    assert incident is not None and await pending_request(bot_context, incident) == request


async def test_approve_answers_the_request_as_the_telegram_user_and_removes_the_buttons(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    request = await waiting_incident(bot_context)
    assert bot_context.approvals is not None
    async with running_bot(bot_context, approval_handlers(bot_context)) as bot:
        assert bot.app is not None
        message_id = await show(bot.app.bot, request, GROUP)
        answer = await tap(telegram_standin, GROUP, OWNER, message_id, callback_data(request, "a"))
        await telegram_standin.wait_for(lambda: not buttons(telegram_standin, GROUP, message_id))
        second = await tap(telegram_standin, GROUP, OWNER, message_id, callback_data(request, "d"))
    assert answer.startswith("Approved")
    stored = await bot_context.approvals.get(request.id)
    assert stored is not None and stored.status == "approved" and stored.answered_by == f"telegram:{OWNER}"
    edited = telegram_standin.message(GROUP, message_id)
    assert edited is not None and "Approved by" in edited.text and f"telegram:{OWNER}" in edited.text
    assert CHANGE in edited.text  # the question is still there, with who answered it
    assert second == f"request {request.id} was already approved; nothing changed"
    assert (await bot_context.approvals.get(request.id)) == stored  # the second tap changed nothing


async def test_deny_answers_the_request_and_wait_keeps_it_pending_with_its_buttons(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    request = await waiting_incident(bot_context)
    assert bot_context.approvals is not None
    async with running_bot(bot_context, approval_handlers(bot_context)) as bot:
        assert bot.app is not None
        message_id = await show(bot.app.bot, request)
        waited = await tap(telegram_standin, OWNER, OWNER, message_id, callback_data(request, "w"))
        assert (await bot_context.approvals.get(request.id)) == request  # still pending, untouched
        assert len(buttons(telegram_standin, OWNER, message_id)) == 3
        denied = await tap(telegram_standin, OWNER, OWNER, message_id, callback_data(request, "d"))
        await telegram_standin.wait_for(lambda: not buttons(telegram_standin, OWNER, message_id))
    assert waited == f"Left pending until {request.expires_at:%H:%M:%S} UTC (no answer by then = deny)."
    assert denied.startswith("Denied")
    stored = await bot_context.approvals.get(request.id)
    assert stored is not None and stored.status == "denied" and stored.answered_by == f"telegram:{OWNER}"
    edited = telegram_standin.message(OWNER, message_id)
    assert edited is not None and "Denied by" in edited.text


async def test_a_stale_button_only_says_the_plan_changed(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    request = await waiting_incident(bot_context)
    assert bot_context.approvals is not None
    async with running_bot(bot_context, approval_handlers(bot_context)) as bot:
        assert bot.app is not None
        message_id = await show(bot.app.bot, request)
        forged = f"ap:{request.id}:000000000000:a"  # a nonce of another plan
        first = await tap(telegram_standin, OWNER, OWNER, message_id, forged)
        # the incident's plan moved on (a new request would be asked): the old button is stale
        incident = await bot_context.store.get(request.incident_id)
        assert incident is not None
        incident.plan = [{"tool": "set_memory_limit", "arguments": {"service": "api", "memory": "128m"}}]
        await bot_context.store.save(incident)
        second = await tap(telegram_standin, OWNER, OWNER, message_id, callback_data(request, "a"))
    assert first == STALE and second == STALE
    assert (await bot_context.approvals.get(request.id)) == request  # still pending, untouched
    assert len(buttons(telegram_standin, OWNER, message_id)) == 3


async def test_an_expired_request_is_not_answered(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    request = await waiting_incident(bot_context, expires_in_s=-1)
    assert bot_context.approvals is not None
    async with running_bot(bot_context, approval_handlers(bot_context)) as bot:
        assert bot.app is not None
        message_id = await show(bot.app.bot, request)
        answer = await tap(telegram_standin, OWNER, OWNER, message_id, callback_data(request, "a"))
    assert answer.startswith(f"request {request.id} expired at ") and "(expiry = deny)" in answer
    stored = await bot_context.approvals.get(request.id)
    assert stored is not None and stored.status == "expired" and stored.answered_by is None
    incident = await bot_context.store.get(request.incident_id)
    assert incident is not None and await pending_request(bot_context, incident) is None


async def test_another_user_is_refused_audited_and_changes_nothing_even_without_the_guard(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    """The approval handler checks the user itself (here with no access guard in front of it)."""
    request = await waiting_incident(bot_context)
    assert bot_context.approvals is not None and bot_context.settings.token is not None
    app = (
        ApplicationBuilder()
        .token(bot_context.settings.token.get_secret_value())
        .base_url(bot_context.settings.base_url)
        .build()
    )
    app.add_handlers(approval_handlers(bot_context))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1)
    try:
        message_id = await show(app.bot, request, GROUP)
        answer = await tap(telegram_standin, GROUP, STRANGER, message_id, callback_data(request, "a"))
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert answer == NOT_ALLOWED
    assert (await bot_context.approvals.get(request.id)) == request
    assert len(buttons(telegram_standin, GROUP, message_id)) == 3
    rows = await bot_context.outbox.audit_rows()
    assert [(r["user_id"], r["allowed"]) for r in rows] == [(STRANGER, False)]
    assert callback_data(request, "a") in rows[0]["what"]


async def test_callback_data_fits_telegrams_64_bytes() -> None:
    request = ApprovalRequest(
        id=approval_id("inc-" + "x" * 200, "f" * 16),
        incident_id="inc-" + "x" * 200,
        title="t",
        changes=["c"],
        plan_hash="f" * 16,
        expires_at=now(),
    )
    for choice in "adw":
        data = callback_data(request, choice)
        assert len(data.encode()) <= CALLBACK_LIMIT and data.startswith(f"ap:{request.id}:")
    with pytest.raises(ValueError, match="over 64 bytes"):
        callback_data(request.model_copy(update={"id": "r" * 60}), "a")
