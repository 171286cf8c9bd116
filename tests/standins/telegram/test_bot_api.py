"""python-telegram-bot's `Bot` against the stand-in: results, Telegram's errors, flood control."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter

from standins.telegram import TelegramStandIn

from .conftest import GROUP, OWNER

# PTB warns when its own code reads RetryAfter.retry_after (an int until PTB 23)
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


def retry_seconds(error: RetryAfter) -> float:
    # `.retry_after` warns (it turns from int into timedelta in PTB 23); PTB's own retry loop reads this
    return error._retry_after.total_seconds()


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in pairs]])


async def test_get_me_names_the_bot(bot: Bot, telegram_standin: TelegramStandIn) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (telegram_standin.bot_id, True, "infraguardian_test_bot")


async def test_send_message_returns_the_message_with_increasing_ids(
    bot: Bot, telegram_standin: TelegramStandIn
) -> None:
    first = await bot.send_message(OWNER, "<b>api</b> is down &amp; restarting", parse_mode=ParseMode.HTML)
    second = await bot.send_message(
        OWNER, "plain", reply_markup=keyboard(("Approve", "ok:1"), ("Deny", "no:1"))
    )
    assert second.message_id == first.message_id + 1
    assert first.text == "api is down & restarting"
    assert first.entities[0].type == "bold" and (first.entities[0].offset, first.entities[0].length) == (0, 3)
    assert first.from_user is not None and first.from_user.id == telegram_standin.bot_id
    assert first.chat.id == OWNER and first.chat.type == "private"
    assert second.reply_markup is not None
    assert second.reply_markup.inline_keyboard[0][1].callback_data == "no:1"
    sent = telegram_standin.sent(OWNER)
    assert [m.raw_text for m in sent] == ["<b>api</b> is down &amp; restarting", "plain"]
    assert sent[1].buttons == [[("Approve", "ok:1"), ("Deny", "no:1")]]
    call = telegram_standin.calls("sendMessage")[0]
    assert call.params["chat_id"] == str(OWNER) and call.params["parse_mode"] == "HTML"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("memory < limit", 'Unsupported start tag "" at byte offset 7'),
    ],
)
async def test_bad_html_is_telegrams_bad_request(
    bot: Bot, telegram_standin: TelegramStandIn, text: str, reason: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(OWNER, text, parse_mode=ParseMode.HTML)
    wire = telegram_standin.requests[-1]
    assert (wire.status, wire.description) == (400, f"Bad Request: can't parse entities: {reason}")
    # PTB drops "Bad Request: " and runs str.capitalize() over the rest
    assert caught.value.message == f"can't parse entities: {reason}".capitalize()


async def test_markdown_v2_reserved_characters_must_be_escaped(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(OWNER, "memory 2G → 4G.", parse_mode=ParseMode.MARKDOWN_V2)
    ok = await bot.send_message(OWNER, r"memory *2G* → 4G\.", parse_mode=ParseMode.MARKDOWN_V2)
    assert ok.text == "memory 2G → 4G."


async def test_text_limits(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)^Message is too long$"):
        await bot.send_message(OWNER, "x" * 4097)
    # 4096 visible characters pass even when the markup makes the sent text longer
    await bot.send_message(OWNER, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)^Message text is empty$"):
        await bot.send_message(OWNER, "<i> </i>", parse_mode=ParseMode.HTML)


async def test_callback_data_over_64_bytes_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)^Button_data_invalid$"):
        await bot.send_message(OWNER, "approve?", reply_markup=keyboard(("Approve", "é" * 33)))
    await bot.send_message(OWNER, "approve?", reply_markup=keyboard(("Approve", "x" * 64)))


async def test_edits_apply_and_identical_edits_are_refused(
    bot: Bot, telegram_standin: TelegramStandIn
) -> None:
    message = await bot.send_message(OWNER, "incident opened", reply_markup=keyboard(("Approve", "ok:1")))
    edited = await bot.edit_message_text("fix applied", chat_id=OWNER, message_id=message.message_id)
    assert isinstance(edited, object) and getattr(edited, "edit_date", None) is not None
    assert telegram_standin.sent(OWNER)[0].text == "fix applied"
    assert telegram_standin.sent(OWNER)[0].buttons == []  # an edit without reply_markup drops the keyboard
    assert telegram_standin.sent(OWNER)[0].history == ["incident opened"]
    with pytest.raises(BadRequest, match=r"(?i)^Message is not modified: specified new message content"):
        await bot.edit_message_text("fix applied", chat_id=OWNER, message_id=message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)^Message to edit not found$"):
        await bot.edit_message_text("x", chat_id=OWNER, message_id=999)
    await bot.edit_message_reply_markup(OWNER, message.message_id, reply_markup=keyboard(("Undo", "undo:1")))
    with pytest.raises(BadRequest, match=r"(?i)^Message is not modified"):
        await bot.edit_message_reply_markup(
            OWNER, message.message_id, reply_markup=keyboard(("Undo", "undo:1"))
        )
    assert [e.method for e in telegram_standin.edits] == ["editMessageText", "editMessageReplyMarkup"]
    assert await bot.delete_message(OWNER, message.message_id) is True
    assert telegram_standin.sent(OWNER) == []
    with pytest.raises(BadRequest, match=r"(?i)^Message to delete not found$"):
        await bot.delete_message(OWNER, message.message_id)


async def test_commands_actions_and_answers(bot: Bot, telegram_standin: TelegramStandIn) -> None:
    await bot.set_my_commands([("status", "State of every service"), ("help", "What I can do")])
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("status", "State of every service"),
        ("help", "What I can do"),
    ]
    with pytest.raises(BadRequest, match=r"(?i)^Bot_command_invalid$"):
        await bot.set_my_commands([("Restart-It", "no")])
    assert await bot.send_chat_action(OWNER, "typing") is True
    assert telegram_standin.chat_actions == [(OWNER, "typing")]
    message = await bot.send_message(OWNER, "approve?", reply_markup=keyboard(("Approve", "ok:1")))
    query_id = telegram_standin.press_button(OWNER, OWNER, message.message_id, "ok:1")
    assert await bot.answer_callback_query(query_id, text="Approved") is True
    assert [(a.callback_query_id, a.text) for a in telegram_standin.callback_answers] == [
        (query_id, "Approved")
    ]
    with pytest.raises(BadRequest, match=r"(?i)^Query is too old"):
        await bot.answer_callback_query(query_id, text="twice")


async def test_wrong_token_is_invalid_token(telegram_standin: TelegramStandIn) -> None:
    bot_id = telegram_standin.token.split(":")[0]
    stranger = Bot(f"{bot_id}:not-the-token", base_url=telegram_standin.base_url)
    try:
        with pytest.raises(InvalidToken, match="was rejected by the server"):
            await stranger.initialize()
    finally:
        await stranger.shutdown()
    wire = telegram_standin.requests[-1]
    assert (wire.method, wire.status, wire.description) == ("getMe", 401, "Unauthorized")


async def test_scripted_429_is_retry_after(bot: Bot, telegram_standin: TelegramStandIn) -> None:
    telegram_standin.fail_next("sendMessage", 429, "Too Many Requests: retry after 17", retry_after=17)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(OWNER, "hello")
    assert retry_seconds(caught.value) == 17
    await bot.send_message(OWNER, "hello")  # used once
    telegram_standin.rate_limit(5)
    with pytest.raises(RetryAfter) as blocked:
        await bot.send_message(OWNER, "again")
    assert 4 <= retry_seconds(blocked.value) <= 5
    telegram_standin.fail_next("getMe", 502, "Bad Gateway")
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.get_me()


async def test_flood_control_per_chat(bot: Bot, telegram_standin: TelegramStandIn) -> None:
    telegram_standin.set_flood_limits(chat_per_second=0.5, chat_burst=2)
    await bot.send_message(GROUP, "1")
    await bot.send_message(GROUP, "2")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "3")
    assert retry_seconds(caught.value) == 2
    await bot.send_message(OWNER, "another chat is not limited by that one")
    flooded = [r for r in telegram_standin.requests if r.status == 429]
    assert [r.description for r in flooded] == ["Too Many Requests: retry after 2"]


async def test_get_updates_conflicts_with_a_webhook(bot: Bot, telegram_standin: TelegramStandIn) -> None:
    assert await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret") is True
    info = await bot.get_webhook_info()
    assert info.url == "https://bot.example.org/hook"
    with pytest.raises(Conflict, match=r"(?i)can't use getUpdates method while webhook is active"):
        await bot.get_updates(timeout=0)
    with pytest.raises(BadRequest, match=r"(?i)An HTTPS URL must be provided"):
        await bot.set_webhook("http://bot.example.org/hook")
    telegram_standin.send_text(OWNER, OWNER, "hi")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.get_updates(timeout=0) == ()
