"""The stand-in over plain HTTP: routes, body kinds, long polling, offsets, conflicts, going down."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from standins.telegram import TelegramStandIn
from standins.telegram.cli import standin as standin_command

from .conftest import GROUP, OWNER

KEYBOARD = {"inline_keyboard": [[{"text": "Approve", "callback_data": "ok:1"}]]}


@pytest.fixture
def http(telegram_standin: TelegramStandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{telegram_standin.base_url}{telegram_standin.token}", timeout=30) as client:
        yield client


def body(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json())


def test_every_body_kind_and_case_insensitive_method_names(
    http: httpx.Client, telegram_standin: TelegramStandIn
) -> None:
    telegram_standin.set_flood_limits(chat_per_second=0)  # four sends at once exceed the per-chat burst
    as_json = http.post("/sendMessage", json={"chat_id": OWNER, "text": "json", "reply_markup": KEYBOARD})
    as_form = http.post(
        "/SENDMESSAGE", data={"chat_id": str(OWNER), "text": "form", "reply_markup": json.dumps(KEYBOARD)}
    )
    as_multipart = http.post(
        "/sendmessage", data={"chat_id": str(OWNER), "text": "multipart"}, files={"x": ("a.txt", b"a")}
    )
    as_query = http.get("/sendMessage", params={"chat_id": OWNER, "text": "query"})
    results = [body(r) for r in (as_json, as_form, as_multipart, as_query)]
    assert [r["ok"] for r in results] == [True] * 4
    assert [r["result"]["message_id"] for r in results] == [1, 2, 3, 4]
    assert results[1]["result"]["reply_markup"] == KEYBOARD


@pytest.mark.parametrize(
    ("path", "code", "description"),
    [
        ("/botnot-a-token/getMe", 404, "Not Found"),
        ("/bot123:wrong/getMe", 401, "Unauthorized"),
        ("/", 404, "Not Found"),
    ],
)
def test_tokens_and_paths(telegram_standin: TelegramStandIn, path: str, code: int, description: str) -> None:
    response = httpx.get(f"{telegram_standin.url}{path}")
    assert (response.status_code, body(response)) == (
        code,
        {"ok": False, "error_code": code, "description": description},
    )


def test_unknown_method_and_bad_markup(http: httpx.Client) -> None:
    assert body(http.post("/sendPigeon", json={}))["error_code"] == 404
    broken = http.post("/sendMessage", data={"chat_id": str(OWNER), "text": "x", "reply_markup": "{not json"})
    assert body(broken)["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    text_button = {"inline_keyboard": [[{"text": "just text"}]]}
    refused = http.post("/sendMessage", json={"chat_id": OWNER, "text": "x", "reply_markup": text_button})
    assert body(refused)["description"] == (
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )
    assert (
        body(http.post("/sendMessage", json={"text": "x"}))["description"] == "Bad Request: chat_id is empty"
    )


def test_user_messages_cannot_be_edited_and_offsets_count_utf16(
    http: httpx.Client, telegram_standin: TelegramStandIn
) -> None:
    written = telegram_standin.send_text(OWNER, OWNER, "🔥 /restart api")
    [update] = body(http.get("/getUpdates"))["result"]
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 3, "length": 8}]
    refused = http.post(
        "/editMessageText", json={"chat_id": OWNER, "message_id": written, "text": "mine now"}
    )
    assert body(refused)["description"] == "Bad Request: message can't be edited"
    sent = body(
        http.post("/sendMessage", json={"chat_id": OWNER, "text": "🔥 <b>api</b>", "parse_mode": "HTML"})
    )
    assert sent["result"]["message_id"] == written + 1  # one counter per chat, user and bot alike
    assert sent["result"]["entities"] == [{"type": "bold", "offset": 3, "length": 3}]


def test_long_polling_holds_until_an_update_arrives(
    http: httpx.Client, telegram_standin: TelegramStandIn
) -> None:
    assert body(http.get("/getUpdates", params={"timeout": 0}))["result"] == []
    writer = threading.Timer(0.3, telegram_standin.send_text, args=(OWNER, OWNER, "hello"))
    writer.start()
    try:
        # nothing is queued when the call starts: only a held request can return the message
        updates = body(http.get("/getUpdates", params={"timeout": 20}))["result"]
    finally:
        writer.join()
    assert [u["message"]["text"] for u in updates] == ["hello"]


def test_offsets_confirm_and_limit_counts(http: httpx.Client, telegram_standin: TelegramStandIn) -> None:
    for text in ("one", "two", "three"):
        telegram_standin.send_text(GROUP, OWNER, text)
    first = body(http.get("/getUpdates"))["result"]
    assert [u["message"]["text"] for u in first] == ["one", "two", "three"]
    assert first[0]["message"]["chat"] == {"id": GROUP, "type": "supergroup", "title": "Group 100777"}
    ids = [u["update_id"] for u in first]
    assert ids == sorted(ids) and len(set(ids)) == 3
    again = body(http.get("/getUpdates", params={"offset": ids[1], "limit": 1}))["result"]
    assert [u["update_id"] for u in again] == [ids[1]]
    assert [u["update_id"] for u in telegram_standin.pending_updates()] == ids[1:]
    last = body(http.get("/getUpdates", params={"offset": -1}))["result"]
    assert [u["update_id"] for u in last] == [ids[2]]
    assert body(http.get("/getUpdates", params={"offset": ids[2] + 1}))["result"] == []


def test_a_second_poller_ends_the_first_with_409(
    http: httpx.Client, telegram_standin: TelegramStandIn
) -> None:
    answers: list[dict[str, Any]] = []
    first = threading.Thread(
        target=lambda: answers.append(body(http.get("/getUpdates", params={"timeout": 20})))
    )
    first.start()
    deadline_polls = 0
    while telegram_standin.world.poll_generation == 0 and deadline_polls < 1000:
        threading.Event().wait(0.01)
        deadline_polls += 1
    with httpx.Client(base_url=f"{telegram_standin.base_url}{telegram_standin.token}", timeout=30) as other:
        assert body(other.get("/getUpdates", params={"timeout": 0}))["ok"] is True
    first.join(30)
    assert answers == [
        {
            "ok": False,
            "error_code": 409,
            "description": "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        }
    ]


def test_down_refuses_connections_and_keeps_the_queue(telegram_standin: TelegramStandIn) -> None:
    telegram_standin.send_text(OWNER, OWNER, "/status")
    telegram_standin.down()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{telegram_standin.base_url}{telegram_standin.token}/getMe")
    telegram_standin.send_text(OWNER, OWNER, "/status again")
    telegram_standin.up()
    updates = httpx.get(f"{telegram_standin.base_url}{telegram_standin.token}/getUpdates").json()["result"]
    assert [u["message"]["text"] for u in updates] == ["/status", "/status again"]


def test_strict_chats_refuse_strangers_until_they_write() -> None:
    with TelegramStandIn(strict_chats=True) as strict:
        url = f"{strict.base_url}{strict.token}/sendMessage"
        refused = httpx.post(url, json={"chat_id": 99, "text": "hi"})
        assert body(refused)["description"] == "Forbidden: bot can't initiate conversation with a user"
        assert (
            body(httpx.post(url, json={"chat_id": -5, "text": "hi"}))["description"]
            == "Bad Request: chat not found"
        )
        strict.send_text(99, 99, "/start")
        assert body(httpx.post(url, json={"chat_id": 99, "text": "hi"}))["ok"] is True


def test_control_routes_play_the_user(telegram_standin: TelegramStandIn) -> None:
    control = f"{telegram_standin.url}/standin"
    assert body(
        httpx.post(f"{control}/send_text", json={"chat_id": OWNER, "user_id": OWNER, "text": "/help"})
    )["result"] == {"message_id": 1}
    api = f"{telegram_standin.base_url}{telegram_standin.token}"
    httpx.post(
        f"{api}/sendMessage",
        json={"chat_id": OWNER, "text": "<i>help</i>", "parse_mode": "HTML", "reply_markup": KEYBOARD},
    )
    [sent] = body(httpx.get(f"{control}/sent", params={"chat_id": OWNER}))["result"]
    assert (sent["message_id"], sent["text"], sent["raw_text"]) == (2, "help", "<i>help</i>")
    tapped = body(
        httpx.post(
            f"{control}/press_button",
            json={"chat_id": OWNER, "user_id": OWNER, "message_id": 2, "data": "ok:1"},
        )
    )
    assert tapped["ok"] is True
    bad = body(
        httpx.post(
            f"{control}/press_button", json={"chat_id": OWNER, "user_id": OWNER, "message_id": 1, "data": "x"}
        )
    )
    assert bad["error_code"] == 400 and "tap a message the bot sent" in bad["description"]


def test_command_line_help() -> None:
    result = CliRunner().invoke(standin_command, ["--help"])
    assert result.exit_code == 0 and "--strict-chats" in result.output
