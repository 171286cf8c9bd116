"""Webhooks: updates POSTed to the URL given to setWebhook, with the secret header, retried on errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from standins.telegram import TelegramStandIn

from .conftest import OWNER


class Receiver:
    """A bot's webhook endpoint: answers with the next scripted status (200 when none is left)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str | None]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    (json.loads(body), self.headers.get("X-Telegram-Bot-Api-Secret-Token"))
                )
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    try:
        yield started
    finally:
        started.close()


def wait_until(condition: Any, within: float = 20.0) -> None:
    done = threading.Event()
    for _ in range(int(within / 0.02)):
        if condition():
            return
        done.wait(0.02)
    raise AssertionError("the webhook did not get there in time")


def test_updates_reach_the_webhook_with_its_secret_and_failures_are_retried(receiver: Receiver) -> None:
    with TelegramStandIn(allow_http_webhooks=True) as telegram:
        api = f"{telegram.base_url}{telegram.token}"
        telegram.send_text(OWNER, OWNER, "/status")  # queued before the webhook: delivered once it is set
        receiver.statuses = [500]
        hook = {"url": receiver.url, "secret_token": "s3cret-Token_1"}
        assert httpx.post(f"{api}/setWebhook", json=hook).json() == {"ok": True, "result": True}
        wait_until(lambda: len(receiver.received) >= 2)  # refused once, then delivered again
        first, again = receiver.received[:2]
        assert first == again and first[1] == "s3cret-Token_1"
        assert first[0]["message"]["text"] == "/status"
        info = httpx.get(f"{api}/getWebhookInfo").json()["result"]
        assert info["last_error_message"] == "Wrong response from the webhook: 500 Internal Server Error"
        assert info["url"] == receiver.url
        telegram.send_text(OWNER, OWNER, "/help")
        wait_until(lambda: len(receiver.received) == 3)
        assert receiver.received[2][0]["message"]["text"] == "/help"
        wait_until(lambda: telegram.pending_updates() == [])
        assert httpx.get(f"{api}/getWebhookInfo").json()["result"]["pending_update_count"] == 0


def test_http_webhooks_are_refused_like_telegram(telegram_standin: TelegramStandIn) -> None:
    api = f"{telegram_standin.base_url}{telegram_standin.token}"
    refused = httpx.post(f"{api}/setWebhook", json={"url": "http://127.0.0.1:9/hook"}).json()
    assert refused["description"] == "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
    port = httpx.post(f"{api}/setWebhook", json={"url": "https://bot.example.org:9443/hook"}).json()
    assert (
        port["description"]
        == "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
    )
