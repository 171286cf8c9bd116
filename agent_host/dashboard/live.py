"""Live updates: one poller per dashboard, fanned out to every open page as server-sent events.

The poller reads cheap summaries — the incident store's newest change, the pending approvals, the
health of every stack — and publishes a topic (`incidents`, `approvals`, `health`) when its summary
changes. Reading the store (not only listening to the loop in this process) is what makes
`infraguardian-agent dashboard` live too: the agent writes the same database from another process.
The poller never writes: an overdue approval is marked expired by a page render or the agent's
monitor, not by a poll every second. A page re-fetches only the regions marked with that topic
(static/dashboard.js).

A slow browser never slows the others: each subscriber has a small queue, and a full queue drops
the oldest event (the next one makes the page fetch the newest state anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from agent_host.dashboard.sources import DashboardSources
from agent_host.dashboard.views import stack_rows

log = logging.getLogger(__name__)

TOPICS = ("incidents", "approvals", "health")
QUEUE_SIZE = 16


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class LiveHub:
    """Polls the sources and publishes changed topics to subscribers."""

    def __init__(self, sources: DashboardSources) -> None:
        self._sources = sources
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._last: dict[str, str] = {}
        self.published = 0

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        event = {"topic": topic, **(data or {})}
        self.published += 1
        for queue in list(self._subscribers):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(event)

    async def summaries(self) -> dict[str, Any]:
        """What each topic looks like now (compared with the last poll)."""
        store_change = await self._sources.store.last_change()
        pending = await self._sources.open_approvals()  # read only: polling never writes
        out: dict[str, Any] = {
            "incidents": store_change,
            "approvals": sorted((r.id, r.status) for r in pending),
        }
        inventory = await self._sources.inventory()
        if inventory.ok:
            out["health"] = sorted((r.app_name, r.health) for r in stack_rows(inventory.data))
        return out

    async def poll_once(self) -> list[str]:
        """Compare with the last poll and publish what changed; returns the changed topics."""
        changed = []
        for topic, summary in (await self.summaries()).items():
            digest = _digest(summary)
            if topic in self._last and self._last[topic] != digest:
                changed.append(topic)
                self.publish(topic)
            self._last[topic] = digest
        return changed

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and retried at the next interval."""
        interval = self._sources.settings.dashboard.poll_s
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # the dashboard must outlive a database or server hiccup
                log.warning("dashboard: live poll failed: %s", exc)
            await asyncio.sleep(interval)

    async def events(self, keepalive_s: float = 15.0) -> AsyncIterator[dict[str, str]]:
        """SSE events for one page (sse-starlette's dict form), with comments as keep-alives."""
        with self.subscribe() as queue:
            yield {"event": "hello", "data": json.dumps({"topics": list(TOPICS)})}
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    yield {"comment": "keep-alive"}
                    continue
                yield {"event": event["topic"], "data": json.dumps(event)}
