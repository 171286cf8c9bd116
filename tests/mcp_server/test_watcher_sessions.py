"""Sessions of one server process share one watcher, and every session reads the same signals.

SSE enters the MCP lifespan once per connection; in-process clients do the same, so two clients of
one server stand in for two SSE connections here. A server run without detectors still sees the
signals another process's watcher writes (the store is shared, not the engine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.detectors import Severity, Signal, SignalChange, Target
from mcp_server.server import build_server
from mcp_server.settings import Settings
from mcp_server.watcher import SqliteSignalStore

pytestmark = [pytest.mark.anyio]

HOST = "local"


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "infraguardian-watcher"]


async def holder_of(store: SqliteSignalStore) -> str:
    with anyio.fail_after(10):
        while (lease := store.current_lease(HOST)) is None or not lease.live(time.time()):  # noqa: ASYNC110
            await anyio.sleep(0.1)
    return lease.holder


async def test_two_sessions_of_one_process_share_one_watcher(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(detectors={"include_labels": {"ig.test": "nothing-carries-this"}})
    server = build_server(settings, run_detectors=True)
    store = SqliteSignalStore.in_state_dir(Path(settings.state_dir))
    before = len(watcher_threads())
    try:
        async with Client(server, raise_exceptions=True) as first:
            holder = await holder_of(store)
            async with Client(server, raise_exceptions=True) as second:
                assert len(watcher_threads()) == before + 1
                for client in (first, second):
                    result = await client.call_tool("active_signals", {})
                    assert result.structured_content == {"detectors_running": True, "signals": []}
            # the first connection's lifespan is still in use: same watcher, same lease
            assert len(watcher_threads()) == before + 1
            assert await holder_of(store) == holder
        # the last lifespan stopped the watcher, which gave the lease up
        assert len(watcher_threads()) == before
        lease = store.current_lease(HOST)
        assert lease is not None and lease.holder == holder and not lease.live(time.time())
    finally:
        store.close()


async def test_a_session_without_detectors_reads_and_is_told_of_another_watchers_signals(
    make_settings: Callable[..., Settings],
) -> None:
    """Signals written by a watcher elsewhere (here: straight into the store, as its journal does)
    show in active_signals and the resource, and wake `resources/updated` subscribers."""
    from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated

    settings = make_settings()
    bus = InMemorySubscriptionBus()
    updates: list[Any] = []
    bus.subscribe(lambda event: updates.append(event) if isinstance(event, ResourceUpdated) else None)
    store = SqliteSignalStore.in_state_dir(Path(settings.state_dir))
    now = time.time()
    at = datetime.fromtimestamp(now, UTC)
    signal = Signal(
        id="oom-elsewhere",
        kind="oom",
        severity=Severity.critical,
        summary="container shop-api-1 was OOM-killed",
        target=Target.for_container(HOST, "shop-api-1", project="shop", service="api"),
        runbook="oom-killed",
        first_seen=at,
        last_seen=at,
    )
    try:
        async with Client(
            build_server(settings, run_detectors=False, subscriptions=bus), raise_exceptions=True
        ) as client:
            before = await client.call_tool("active_signals", {})
            assert before.structured_content == {"detectors_running": False, "signals": []}
            store.acquire_lease(HOST, "4242@elsewhere/abcd", settings.docker_host, ttl_s=30)
            store.record(
                HOST, "4242@elsewhere/abcd", [SignalChange(change="raised", signal=signal, at=at)], []
            )
            with anyio.fail_after(10):
                while not updates:  # noqa: ASYNC110 - filled by a sync listener
                    await anyio.sleep(0.1)
            assert updates[0].uri == "infraguardian://signals"
            after = await client.call_tool("active_signals", {"min_severity": "critical"})
            assert (
                after.structured_content is not None and after.structured_content["detectors_running"] is True
            )
            [shown] = after.structured_content["signals"]
            assert (shown["id"], shown["first_seen"]) == (
                "oom-elsewhere",
                signal.model_dump(mode="json")["first_seen"],
            )
            resource = await client.read_resource("infraguardian://signals")
            assert "oom-elsewhere" in resource.contents[0].text  # type: ignore[union-attr]
    finally:
        store.close()
