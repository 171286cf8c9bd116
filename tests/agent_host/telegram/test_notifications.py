"""Incident notifications through the real python-telegram-bot against the Telegram stand-in: one
message per incident per chat, edited as the incident moves; rapid steps coalesced; container text
escaped and secrets redacted; Telegram down → the agent does not wait and the backlog arrives
after; 429 retry_after honoured; a restarted bot edits instead of sending again; muted targets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_host.approvals.book import ApprovalRequest, approval_id, expiry, plan_hash
from agent_host.incidents.database import open_database
from agent_host.incidents.model import ActionRecord, Incident, now
from agent_host.telegram.bot import TelegramBot
from agent_host.telegram.context import BotContext
from agent_host.telegram.outbox import Outbox
from standins.telegram import TelegramStandIn

from .conftest import GROUP, OWNER, running_bot

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]
FAST = {"coalesce_s": 0.2, "retry_base_s": 0.2, "retry_max_s": 0.5}
LEAKY_LOG = "FATAL <script>alert(1)</script> db login failed password=hunter2"


@asynccontextmanager
async def notifying(ctx: BotContext, **options: Any) -> AsyncIterator[TelegramBot]:
    """A running bot with its notification worker, both stopped afterwards."""
    async with running_bot(ctx, [], **{**FAST, **options}) as bot:
        worker = asyncio.create_task(bot.run_notifier())
        try:
            yield bot
        finally:
            worker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await worker


def opened(incident_id: str = "inc-notify1", service: str = "api") -> Incident:
    return Incident(
        id=incident_id,
        fingerprint=f"service:local/shop/{service}",
        target_key=f"service:local/shop/{service}",
        target={"host": "local", "app_name": "shop", "service": service},
        kind="oom",
        severity="critical",
        summary=f"{service} was OOM-killed",
        signals=[{"id": "oom-1", "kind": "oom", "evidence": {"exit_code": 137, "last_logs": [LEAKY_LOG]}}],
        facts={"memory_limit": "64m", "dependants": ["web"]},
    )


def acted(incident: Incident) -> Incident:
    moved = incident.model_copy(deep=True)
    moved.status = "verifying"
    moved.actions.append(
        ActionRecord(key="k1", tool="update_memory_limit", arguments={}, ok=True, summary="memory 64m → 128m")
    )
    return moved


def verified(incident: Incident) -> Incident:
    moved = acted(incident) if not incident.actions else incident.model_copy(deep=True)
    moved.verification = {
        "verdict": "healthy",
        "window_s": 30,
        "checks": {"running": {"passed": 3, "samples": 3}},
    }
    moved.close("resolved", "healthy after raising memory", "verify_fix")
    return moved


def texts(standin: TelegramStandIn, chat: int) -> list[str]:
    return [message.text for message in standin.sent(chat)]


def requests_to(standin: TelegramStandIn, method: str, chat: int) -> list[Any]:
    return [r for r in standin.calls(method) if str(r.params.get("chat_id")) == str(chat)]


async def test_one_message_per_incident_per_chat_edited_as_it_moves(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    incident = opened()
    async with notifying(bot_context) as bot:
        bot.listener(incident, "detect_incident")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
        assert texts(telegram_standin, OWNER)[0].startswith("🔴 Incident opened — shop/api")
        bot.listener(acted(incident), "execute_action")
        await telegram_standin.wait_for(lambda: "update_memory_limit" in texts(telegram_standin, GROUP)[0])
        bot.listener(verified(incident), "verify_fix")
        await telegram_standin.wait_for(
            lambda: all(texts(telegram_standin, chat)[0].startswith("✅ Resolved") for chat in (OWNER, GROUP))
        )
    for chat in (OWNER, GROUP):
        [message] = telegram_standin.sent(chat)  # still one message, now showing the whole story
        assert "✔ update_memory_limit: memory 64m → 128m" in message.text
        assert "After: healthy over 30 s (running 3/3 ok)" in message.text
        assert len(requests_to(telegram_standin, "sendMessage", chat)) == 1
        assert [e.message_id for e in telegram_standin.edits if e.chat_id == chat] == [message.message_id] * 2


async def test_rapid_steps_are_coalesced_into_one_message(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    incident = opened()
    async with notifying(bot_context, coalesce_s=0.5) as bot:
        for state, step in ((incident, "detect_incident"), (acted(incident), "execute_action"), (verified(incident), "verify_fix")):  # fmt: skip
            bot.listener(state, step)
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
        await asyncio.sleep(0.5)  # room for any further (unwanted) message or edit
    for chat in (OWNER, GROUP):
        assert [t.split("\n")[0] for t in texts(telegram_standin, chat)] == ["✅ Resolved — shop/api"]
        assert len(requests_to(telegram_standin, "sendMessage", chat)) == 1
    assert telegram_standin.edits == []


async def test_container_text_arrives_escaped_and_secrets_redacted(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    huge = opened()
    huge.signals.append({"id": "logs", "kind": "oom", "summary": "log flood " + "x" * 20_000})
    async with notifying(bot_context) as bot:
        bot.listener(huge, "detect_incident")
        [message] = await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
    assert message.parse_mode == "HTML"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.raw_text  # data, not markup
    assert "FATAL <script>alert(1)</script> db login failed password=[REDACTED]" in message.text
    assert "hunter2" not in message.raw_text
    assert len(message.text) <= 4096


async def test_telegram_down_never_blocks_the_agent_and_the_backlog_arrives_after(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    first, second = opened("inc-down1", "api"), opened("inc-down2", "worker")
    async with notifying(bot_context) as bot:
        bot.listener(first, "detect_incident")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
        await asyncio.to_thread(telegram_standin.down)
        # the loop's steps go on: each listener call only queues (no network), and returns
        bot.listener(acted(first), "execute_action")
        bot.listener(second, "detect_incident")
        bot.listener(verified(first), "verify_fix")
        bot.listener(acted(second), "execute_action")
        await asyncio.sleep(1.5)  # the worker meets refused connections and backs off
        assert bot.notifier.backlog >= 1
        await asyncio.to_thread(telegram_standin.up)
        await telegram_standin.wait_for(
            lambda: all(
                len(telegram_standin.sent(chat)) == 2
                and texts(telegram_standin, chat)[0].startswith("✅ Resolved")
                and "update_memory_limit" in texts(telegram_standin, chat)[1]
                for chat in (OWNER, GROUP)
            ),
            within=30,
        )
        assert bot.notifier.backlog == 0
    for chat in (OWNER, GROUP):
        assert len(requests_to(telegram_standin, "sendMessage", chat)) == 2  # one per incident, no duplicate


async def test_a_429_retry_after_is_honoured(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    telegram_standin.fail_next("sendMessage", 429, "Too Many Requests: retry after 2", retry_after=2)
    async with notifying(bot_context) as bot:
        bot.listener(opened(), "detect_incident")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
    sends = telegram_standin.calls("sendMessage")
    assert [r.status for r in sends] == [429, 200, 200]
    assert sends[1].at - sends[0].at >= 1.9  # nothing was sent before retry_after had passed
    assert len(telegram_standin.sent(OWNER)) == len(telegram_standin.sent(GROUP)) == 1


async def test_after_a_restart_the_incident_message_is_edited_not_sent_again(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    incident = opened()
    await bot_context.store.save(incident)  # unfinished: the restarted bot looks at it again
    async with notifying(bot_context) as bot:
        bot.listener(incident, "detect_incident")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER) and telegram_standin.sent(GROUP))
    [before] = telegram_standin.sent(OWNER)
    async with notifying(bot_context) as restarted:  # a new bot on the same database
        await asyncio.sleep(0.6)  # it re-reads the unfinished incident: unchanged, so nothing is sent
        assert len(telegram_standin.calls("sendMessage")) == 2
        restarted.listener(verified(incident), "verify_fix")
        await telegram_standin.wait_for(lambda: texts(telegram_standin, OWNER)[0].startswith("✅ Resolved"))
        await telegram_standin.wait_for(lambda: texts(telegram_standin, GROUP)[0].startswith("✅ Resolved"))
    [after] = telegram_standin.sent(OWNER)
    assert after.message_id == before.message_id
    assert len(telegram_standin.calls("sendMessage")) == 2  # one per chat, all before the restart


async def test_a_muted_target_gets_no_notification(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    await bot_context.outbox.mute("service:local/shop/api", now() + timedelta(hours=1), "telegram:4242")
    await bot_context.outbox.mute("service:local/shop/db", now() - timedelta(minutes=1), "telegram:4242")
    async with notifying(bot_context) as bot:
        bot.listener(opened("inc-muted", "api"), "detect_incident")
        bot.listener(opened("inc-loud", "worker"), "detect_incident")
        bot.listener(opened("inc-mute-over", "db"), "detect_incident")  # its mute has ended
        await telegram_standin.wait_for(lambda: len(telegram_standin.sent(OWNER)) == 2)
        await asyncio.sleep(0.5)
    shown = texts(telegram_standin, OWNER)
    assert [t.split("\n")[0] for t in shown] == [
        "🔴 Incident opened — shop/worker",
        "🔴 Incident opened — shop/db",
    ]
    assert all("inc-muted" not in t for t in shown + texts(telegram_standin, GROUP))


async def test_an_incident_waiting_for_approval_shows_the_question_and_its_buttons_until_answered(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    assert bot_context.approvals is not None
    waiting = opened()
    waiting.status = "awaiting_approval"
    waiting.plan = [{"tool": "update_memory_limit", "arguments": {"app_name": "shop", "service": "api", "memory": "128m"}}]  # fmt: skip
    digest = plan_hash(waiting.plan)
    request = await bot_context.approvals.ask(
        ApprovalRequest(
            id=approval_id(waiting.id, digest),
            incident_id=waiting.id,
            title="raise-memory on service:local/shop/api",
            changes=["memory 64m → 128m"],
            blast_radius=["web"],
            plan_hash=digest,
            expires_at=expiry(now(), 900),
        )
    )
    async with notifying(bot_context) as bot:
        bot.listener(waiting, "escalate")
        [message] = await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        assert message.text.startswith("🟠 Waiting for your approval — shop/api")
        assert "Approval needed: raise-memory on service:local/shop/api" in message.text
        assert "memory 64m → 128m" in message.text
        assert [data.split(":")[:2] for _, data in message.buttons[0]] == [["ap", request.id]] * 3
        await bot_context.approvals.answer(request.id, True, "telegram:4242")
        bot.listener(verified(waiting), "verify_fix")
        await telegram_standin.wait_for(lambda: texts(telegram_standin, OWNER)[0].startswith("✅ Resolved"))
    [message] = telegram_standin.sent(OWNER)
    assert message.buttons == []  # the question is answered: its buttons are gone
    assert "Approval needed" not in message.text


async def test_stopping_the_bot_ends_the_notification_worker(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    async with running_bot(bot_context, [], **FAST) as bot:
        worker = asyncio.create_task(bot.run_notifier())
        bot.listener(opened(), "detect_incident")
        await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        assert not worker.done()
    await asyncio.wait_for(worker, timeout=10)  # it returns by itself
    assert worker.done() and not worker.cancelled()


async def test_a_deleted_incident_message_is_sent_again_when_the_incident_moves(
    telegram_standin: TelegramStandIn, bot_context: BotContext
) -> None:
    incident = opened()
    async with notifying(bot_context) as bot:
        bot.listener(incident, "detect_incident")
        [first] = await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        assert bot.app is not None
        await bot.app.bot.delete_message(OWNER, first.message_id)  # someone cleaned the chat
        bot.listener(verified(incident), "verify_fix")
        [again] = await telegram_standin.wait_for(lambda: telegram_standin.sent(OWNER))
        await telegram_standin.wait_for(lambda: texts(telegram_standin, GROUP)[0].startswith("✅ Resolved"))
    assert again.message_id != first.message_id and again.text.startswith("✅ Resolved")
    assert await bot_context.outbox.message_for(incident.id, OWNER) == again.message_id


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_outbox_remembers_messages_mutes_and_audit_on_both_databases(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    db = open_database(url, tmp_path / "agent.db")
    try:
        outbox = Outbox(db)
        if url:  # the session's PostgreSQL database is shared by the tests that use it
            tables = ("telegram_messages", "telegram_mutes", "telegram_audit")
            await db.transaction(lambda tx: [tx.execute(f"DELETE FROM {t}") for t in tables])
        assert await outbox.message_for("inc-1", GROUP) is None
        await outbox.remember_message("inc-1", GROUP, 17, "hash-a")
        await outbox.remember_message("inc-1", GROUP, 18, "hash-b")  # the same incident and chat: replaced
        await outbox.remember_message("inc-1", OWNER, 5, "hash-a")
        assert await outbox.message_for("inc-1", GROUP) == 18
        assert await outbox.text_hash_for("inc-1", GROUP) == "hash-b"
        assert await outbox.message_for("inc-1", OWNER) == 5
        moment = now()
        await outbox.mute("service:local/shop/api", moment + timedelta(minutes=30), "telegram:4242")
        assert await outbox.muted("service:local/shop/api", moment)
        assert not await outbox.muted("service:local/shop/api", moment + timedelta(minutes=31))
        assert not await outbox.muted("service:local/shop/web", moment)
        await outbox.audit(GROUP, 999, "/restart api", False)
        await outbox.audit(OWNER, OWNER, "x" * 2000, True)
        rows = await outbox.audit_rows()
        assert [(r["chat_id"], r["user_id"], r["allowed"]) for r in rows] == [
            (OWNER, OWNER, True),
            (GROUP, 999, False),
        ]
        assert len(rows[0]["what"]) == 500
    finally:
        db.close()
