"""What the stand-in's Telegram knows: chats, the bot's messages, pending updates, answers, recordings.

One `World` is shared by the server's thread (the Bot API routes) and the test's thread (`send_text`,
`press_button`, `sent()`...), so every read and write holds its lock. Flood control lives here too:
token buckets per chat and overall, refilled continuously, like Telegram's documented limits
(https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): about one message
per second in a chat (short bursts pass), 20 per minute in a group, 30 per second overall.
"""

from __future__ import annotations

import copy
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .keyboards import buttons

MAX_RECORDS = 10_000  # a lab run of days keeps its memory bounded (the oldest are dropped)
FIRST_UPDATE_ID = 700_000_001


@dataclass
class FloodLimits:
    """Flood control, settable so tests can lower it. A limit of 0 turns that check off.

    Each is a token bucket: `*_burst` messages at once, refilled at the rate. Groups (negative chat
    ids) also get `group_per_minute`. Sends and edits count; answers, actions and deletes do not.
    """

    chat_per_second: float = 1.0
    chat_burst: int = 3
    group_per_minute: float = 20.0
    overall_per_second: float = 30.0
    overall_burst: int = 30
    # Telegram's flood control is not millisecond-exact, and a client's limiter counts from when it
    # sent, not from when the message arrived: a message at most this early still passes
    slack_s: float = 0.25


class _Bucket:
    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity, self.rate = capacity, per_second
        self.tokens, self.stamp = capacity, time.monotonic()

    def wait_needed(self, now: float, slack_s: float) -> float:
        """Seconds until one token is there (0: now, or within `slack_s`); refills first."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        wait = (1 - self.tokens) / self.rate
        return 0.0 if wait <= slack_s else wait

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class RecordedRequest:
    """One Bot API call as received: `method` as Telegram names it (e.g. "sendMessage"), `params` as
    sent (form values are strings), the HTTP status, and the error description when it failed."""

    method: str
    params: dict[str, Any]
    http_method: str = "POST"
    status: int = 0
    description: str = ""
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.status == 200

    def describe(self) -> str:
        answer = "ok" if self.ok else f"{self.status} {self.description}"
        return f"{self.http_method} {self.method} → {answer}"


@dataclass
class SentMessage:
    """A message the bot sent, as it now stands (edits applied).

    `text` is what the user sees (markup parsed), `raw_text` what the bot sent, with `parse_mode`.
    """

    chat_id: int
    message_id: int
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    date: int
    edit_date: int | None = None
    deleted: bool = False
    from_bot: bool = True
    history: list[str] = field(default_factory=list)  # earlier visible texts, oldest first

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """The inline keyboard as rows of (text, callback_data)."""
        return buttons(self.reply_markup)


@dataclass
class Edit:
    """One successful edit: what the message showed before and after."""

    chat_id: int
    message_id: int
    method: str
    old_text: str
    new_text: str
    reply_markup: dict[str, Any] | None
    at: float = field(default_factory=time.time)


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery the bot made."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int
    at: float = field(default_factory=time.time)


@dataclass
class ScriptedFailure:
    method: str  # lower-case method name, or "*" for any
    error_code: int
    description: str
    retry_after: int | None


class World:
    """The shared state (see the module docstring). Methods named like Bot API concepts."""

    def __init__(self, *, bot_id: int, bot_username: str, bot_name: str) -> None:
        self.lock = threading.RLock()
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], SentMessage] = {}
        self._next_message_id: dict[int, int] = {}
        self.updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(FIRST_UPDATE_ID)
        self._callback_ids = itertools.count(1)
        self.callbacks: dict[str, tuple[int, int]] = {}  # unanswered callback id → (chat, message)
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.edits: list[Edit] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.requests: deque[RecordedRequest] = deque(maxlen=MAX_RECORDS)
        self.failures: list[ScriptedFailure] = []
        self.problems: list[str] = []  # stand-in crashes: the pytest fixture fails the test on these
        self.limits = FloodLimits()
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self.blocked_until = 0.0  # rate_limit(): every send refused until then (monotonic)
        self.allow_http_webhooks = False  # Telegram wants https; local tests serve http
        self.strict_chats = False  # True: sending to a chat no user wrote from first is refused
        self.poll_generation = 0  # a newer getUpdates ends an older one with 409, as Telegram does
        self.on_answered: Callable[[RecordedRequest], None] | None = None

    # -- chats and messages ------------------------------------------------------------------------
    def chat(
        self, chat_id: int, *, user: dict[str, Any] | None = None, title: str | None = None
    ) -> dict[str, Any]:
        """The chat object, created on first use: positive ids are private chats, negative ones groups."""
        with self.lock:
            known = self.chats.get(chat_id)
            if known is None:
                person = user or {}
                if chat_id > 0:
                    known = {"id": chat_id, "type": "private", "first_name": person.get("first_name", "User")}
                    if person.get("username"):
                        known["username"] = person["username"]
                else:
                    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                    known = {"id": chat_id, "type": kind, "title": title or f"Group {-chat_id}"}
                self.chats[chat_id] = known
            return known

    def new_message_id(self, chat_id: int) -> int:
        with self.lock:
            number = self._next_message_id.get(chat_id, 0) + 1
            self._next_message_id[chat_id] = number
            return number

    def message_json(self, message: SentMessage) -> dict[str, Any]:
        """The Message object the Bot API returns for a bot's message."""
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "from": dict(self.bot_user),
            "chat": dict(self.chat(message.chat_id)),
            "date": message.date,
            "text": message.text,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        if message.entities:
            body["entities"] = copy.deepcopy(message.entities)
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            body["reply_markup"] = copy.deepcopy(message.reply_markup)
        return body

    def sent(self, chat_id: int | None = None) -> list[SentMessage]:
        with self.lock:
            return [
                copy.deepcopy(m)
                for m in self.messages.values()  # in the order they were sent
                if m.from_bot and not m.deleted and (chat_id is None or m.chat_id == chat_id)
            ]

    # -- updates ---------------------------------------------------------------------------------
    def queue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            update = {"update_id": next(self._update_ids), kind: payload}
            self.updates.append(update)
            return update

    def next_callback_id(self) -> str:
        # Telegram's ids are long decimal strings; these are unique per stand-in
        return f"{4_000_000_000_000_000 + next(self._callback_ids)}"

    def confirm_and_take(
        self, offset: int | None, limit: int, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """getUpdates' semantics: updates before `offset` are confirmed (dropped); a negative offset
        counts from the end; up to `limit` of the rest are returned (and kept until confirmed)."""
        with self.lock:
            if offset is not None and offset < 0:
                keep = list(self.updates)[offset:]
                self.updates = deque(keep)
            elif offset:
                while self.updates and self.updates[0]["update_id"] < offset:
                    self.updates.popleft()
            if allowed:
                wanted = [u for u in self.updates if any(kind in u for kind in allowed)]
                return copy.deepcopy(wanted[:limit])
            return copy.deepcopy(list(self.updates)[:limit])

    # -- flood control and scripted errors ---------------------------------------------------------
    def flood_wait(self, chat_id: int) -> int | None:
        """None when a message to `chat_id` may go now (and counts it); else seconds to wait."""
        with self.lock:
            now = time.monotonic()
            if now < self.blocked_until:
                return max(1, math.ceil(self.blocked_until - now))
            limits = self.limits
            checks: list[tuple[tuple[str, int], float, float]] = []
            if limits.overall_per_second > 0:
                checks.append((("all", 0), limits.overall_burst, limits.overall_per_second))
            if limits.chat_per_second > 0:
                checks.append((("chat", chat_id), limits.chat_burst, limits.chat_per_second))
            if chat_id < 0 and limits.group_per_minute > 0:
                checks.append((("group", chat_id), limits.group_per_minute, limits.group_per_minute / 60))
            buckets = [self._bucket(key, capacity, rate) for key, capacity, rate in checks]
            wait = max((bucket.wait_needed(now, limits.slack_s) for bucket in buckets), default=0.0)
            if wait > 0:
                return max(1, math.ceil(wait))
            for bucket in buckets:
                bucket.take()
            return None

    def _bucket(self, key: tuple[str, int], capacity: float, rate: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != capacity or bucket.rate != rate:
            bucket = self._buckets[key] = _Bucket(capacity, rate)
        return bucket

    def take_failure(self, method: str) -> ScriptedFailure | None:
        with self.lock:
            for index, failure in enumerate(self.failures):
                if failure.method in ("*", method.lower()):
                    return self.failures.pop(index)
            return None

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.append(request)
