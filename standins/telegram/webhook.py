"""Webhook delivery: while a webhook is set, queued updates are POSTed to it one at a time, in order.

As Telegram does: the JSON body is the Update, `X-Telegram-Bot-Api-Secret-Token` carries the secret
given to setWebhook, any 2xx confirms the update, anything else is retried later (with growing
pauses) and shows in getWebhookInfo as `last_error_date` / `last_error_message`
("Wrong response from the webhook: 500 Internal Server Error", "Connection refused").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import httpx

from .world import World

IDLE_STEP_S = 0.02  # how often an idle loop looks for updates to deliver
FIRST_RETRY_S = 0.5  # Telegram waits longer; tests want a failed delivery retried soon
MAX_RETRY_S = 5.0


def next_delivery(world: World) -> tuple[str, str | None, dict[str, Any]] | None:
    """(url, secret, update) for the oldest queued update the webhook wants, or None."""
    with world.lock:
        hook = world.webhook
        if hook is None:
            return None
        allowed = hook.get("allowed_updates") or None
        for update in world.updates:
            if allowed is None or any(kind in update for kind in allowed):
                return hook["url"], hook.get("secret_token"), dict(update)
        return None


def delivered(world: World, update_id: int, error: str | None) -> None:
    """Drop a confirmed update; or record why the webhook refused it (the update stays queued)."""
    with world.lock:
        if error is None:
            world.updates = type(world.updates)(u for u in world.updates if u["update_id"] != update_id)
        elif world.webhook is not None:
            world.webhook.update(last_error_date=int(time.time()), last_error_message=error)


async def deliver_forever(world: World, stopping: Callable[[], bool]) -> None:
    """Run on the server's loop until `stopping()`; see the module docstring."""
    pause = FIRST_RETRY_S
    async with httpx.AsyncClient(timeout=10) as client:
        while not stopping():
            job = next_delivery(world)
            if job is None:
                await asyncio.sleep(IDLE_STEP_S)
                continue
            url, secret, update = job
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            try:
                response = await client.post(url, json=update, headers=headers)
                error = None if response.is_success else _wrong_response(response.status_code)
            except httpx.ConnectError:
                error = "Connection refused"
            except httpx.TimeoutException:
                error = "Read timeout expired"
            except httpx.HTTPError as exc:
                error = f"Webhook request failed: {type(exc).__name__}"
            delivered(world, update["update_id"], error)
            if error is None:
                pause = FIRST_RETRY_S
            else:
                await asyncio.sleep(pause)
                pause = min(MAX_RETRY_S, pause * 2)


def _wrong_response(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"Wrong response from the webhook: {status} {phrase}"
