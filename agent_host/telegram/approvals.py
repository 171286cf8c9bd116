"""Approvals with buttons: the agent's approval request (the exact change, its blast radius, why,
until when) with an Approve / Deny / Wait keyboard under it.

Each button's callback data is `ap:<request_id>:<nonce>:<a|d|w>`: bound to one request (itself
bound to the incident and its plan) and to a nonce derived from the plan that message showed. A tap
changes something only when it comes from an allowed user, its nonce matches the request's plan,
the incident still waits on that plan, and the request is still pending and not expired. Anything
else is only answered (a one-line popup): a stranger is refused and audited, a stale button is
told the plan changed, a second tap or an expired request gets the approval book's one-line reason.
Wait leaves the request pending (no answer before the expiry = deny) and keeps the buttons.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from agent_host.approvals.answering import plan_changed
from agent_host.approvals.book import ApprovalError, ApprovalRequest, plan_hash
from agent_host.incidents.model import Incident, now

from .context import BotContext
from .render import html, split_message, utf16_len

log = logging.getLogger("infraguardian.agent.telegram")

CALLBACK_PREFIX = "ap"
CALLBACK_LIMIT = 64  # Telegram's limit on callback_data, in bytes
APPROVE, DENY, WAIT = "a", "d", "w"
BUTTONS = ((APPROVE, "✅ Approve"), (DENY, "⛔ Deny"), (WAIT, "⏳ Wait"))
NONCE_CHARS = 12
ANSWER_LIMIT = 200  # answerCallbackQuery shows at most 200 characters
MESSAGE_LIMIT = 4000
CHANGE_CHARS = 1500  # one change (a compose diff) is cut here
REASONS_SHOWN = 5

NOT_ALLOWED = "Sorry, only the people my owner allowed may answer approvals. This attempt was recorded."
STALE = "This plan changed; see the new message. Nothing was changed."


def nonce(request: ApprovalRequest) -> str:
    """The nonce of the plan a message showed: the request id and its plan hash, hashed."""
    return hashlib.sha256(f"{request.id}:{request.plan_hash}".encode()).hexdigest()[:NONCE_CHARS]


def callback_data(request: ApprovalRequest, choice: str) -> str:
    """`ap:<request_id>:<nonce>:<a|d|w>`; ValueError if it would not fit Telegram's 64 bytes."""
    data = f"{CALLBACK_PREFIX}:{request.id}:{nonce(request)}:{choice}"
    if len(data.encode()) > CALLBACK_LIMIT:
        raise ValueError(f"callback data for request {request.id!r} is over 64 bytes; use a shorter id")
    return data


def parse_callback(data: str) -> tuple[str, str, str] | None:
    """(request_id, nonce, choice) from a button's data, or None when it is not an approval button."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != CALLBACK_PREFIX or parts[3] not in (APPROVE, DENY, WAIT):
        return None
    return parts[1], parts[2], parts[3]


def approval_keyboard(request: ApprovalRequest) -> InlineKeyboardMarkup:
    """Approve / Deny / Wait, each bound to this request and the plan it shows."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label, callback_data=callback_data(request, choice))
                for choice, label in BUTTONS
            ]
        ]
    )


def _clock(moment: Any) -> str:
    return f"{moment:%H:%M:%S} UTC"


def approval_text(request: ApprovalRequest) -> str:
    """The question (Telegram HTML): the exact change(s), the blast radius, the reasons, the expiry."""
    out = [f"🟠 <b>Approval needed</b>: {html(request.title)}", "", "<b>Change</b>"]
    for change in request.changes:
        text = change if len(change) <= CHANGE_CHARS else change[:CHANGE_CHARS] + "…"
        out.append(f"<pre>{html(text)}</pre>" if "\n" in text else f"• <code>{html(text)}</code>")
    radius = ", ".join(request.blast_radius)
    out += [
        "",
        "<b>Blast radius</b>: "
        + (html(radius) if radius else "no other service depends on it (only the target restarts)"),
    ]
    if request.reasons:
        out += ["", "<b>Why</b>", *(f"• {html(reason)}" for reason in request.reasons[:REASONS_SHOWN])]
    out += [
        "",
        f"Answer by <b>{_clock(request.expires_at)}</b> — no answer by then = deny. "
        f"<i>request {html(request.id)}</i>",
    ]
    return split_message("\n".join(out), MESSAGE_LIMIT)[0]


async def pending_request(ctx: BotContext, incident: Incident) -> ApprovalRequest | None:
    """The incident's pending, unexpired request; the one for its current plan when there are several."""
    if ctx.approvals is None:
        return None
    moment = now()
    mine = [
        r for r in await ctx.approvals.pending() if r.incident_id == incident.id and r.expires_at > moment
    ]
    if incident.plan:
        current = plan_hash(incident.plan)
        mine = [r for r in mine if r.plan_hash == current] or mine
    return max(mine, key=lambda r: r.created_at) if mine else None


class ApprovalButtons:
    """The handler of approval button taps."""

    def __init__(self, ctx: BotContext) -> None:
        self._ctx = ctx

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        user_id = query.from_user.id
        chat = update.effective_chat
        chat_id = chat.id if chat is not None else user_id
        data = query.data or ""
        if not self._ctx.allowed(chat_id, user_id):
            await self._ctx.audit(chat_id, user_id, f"button {data}", False)
            await self._answer(query, NOT_ALLOWED, alert=True)
            return
        reply, answered = await self._decide(data, user_id)
        await self._ctx.audit(chat_id, user_id, f"button {data}: {reply}", True)
        await self._answer(query, reply, alert=answered is None)
        if answered is not None and isinstance(query.message, Message):
            await self._mark_answered(query.message, answered, query.from_user.full_name)

    async def _decide(self, data: str, user_id: int) -> tuple[str, ApprovalRequest | None]:
        """The popup text, and the request when this tap answered it."""
        parsed = parse_callback(data)
        book = self._ctx.approvals
        if parsed is None:
            return f"unknown button {data[:40]!r}; use /approve ID or /deny ID", None
        if book is None:
            return "approvals are not configured on this agent; nothing changed", None
        request_id, shown, choice = parsed
        request = await book.get(request_id)
        if request is None:
            return f"no approval request {request_id!r}; see /incidents", None
        if shown != nonce(request) or await self._plan_changed(request):
            return STALE, None
        if choice == WAIT:
            return self._wait_reply(request), None
        try:
            answered = await book.answer(request_id, choice == APPROVE, by=f"telegram:{user_id}")
        except ApprovalError as exc:
            return str(exc), None
        if answered.status == "approved":
            return "Approved: the agent applies it now and verifies it.", answered
        return "Denied: nothing will be changed.", answered

    async def _plan_changed(self, request: ApprovalRequest) -> bool:
        """True when the incident now waits on another plan than the one this request showed."""
        return await plan_changed(self._ctx.store, request)

    @staticmethod
    def _wait_reply(request: ApprovalRequest) -> str:
        if request.status != "pending":
            return f"request {request.id} was already {request.status}; nothing changed"
        if request.expires_at <= now():
            return f"request {request.id} expired at {_clock(request.expires_at)} (expiry = deny)"
        return f"Left pending until {_clock(request.expires_at)} (no answer by then = deny)."

    async def _answer(self, query: Any, text: str, *, alert: bool) -> None:
        try:
            await query.answer(text[:ANSWER_LIMIT], show_alert=alert)
        except TelegramError as exc:  # the spinner stops by itself; the decision already stands
            log.warning("telegram: could not answer a button tap: %s", exc)

    async def _mark_answered(self, message: Message, request: ApprovalRequest, name: str) -> None:
        """Edit the question to say who answered, and remove its buttons."""
        mark = "✅ <b>Approved</b>" if request.status == "approved" else "⛔ <b>Denied</b>"
        when = _clock(request.answered_at) if request.answered_at else ""
        line = f"{mark} by {html(name)} ({html(request.answered_by or '')}) at {when}"
        body = message.text_html or ""
        room = max(500, MESSAGE_LIMIT - utf16_len(line) - 2)
        text = f"{split_message(body, room)[0]}\n\n{line}" if body.strip() else line
        try:
            await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=None)
        except TelegramError as exc:  # the answer is recorded; the notifier edits the message again
            log.warning("telegram: could not mark approval %s as answered: %s", request.id, exc)


def approval_handlers(ctx: BotContext) -> list[BaseHandler[Any, Any, Any]]:
    """The approval buttons' handler (callback data starting with `ap:`)."""
    return [CallbackQueryHandler(ApprovalButtons(ctx).on_press, pattern=f"^{CALLBACK_PREFIX}:")]
