"""The `no_new_signal` verify check: a kill the engine dated after the fix fails it; a kill that
began before the fix but was recorded or refreshed after it does not (an OOM-killed container that
got its raise between the kernel's kill and the engine's record of the exit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_host.diagnosis.verify_checks import RECORD_LAG, VerifyMemo, no_new_signal
from mcp_server.runbooks import Check

from .fakes import Answer, FakeServer

pytestmark = pytest.mark.anyio
ACTED = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TARGET = {"app_name": "shop", "service": "api"}


def signal(kind: str = "oom", service: str = "api", **times: datetime | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "target": {"app_name": "shop", "service": service},
        **{name: value.isoformat() if value else None for name, value in times.items()},
    }


async def look(*signals: dict[str, Any], kinds: list[str] | None = None) -> bool | None:
    server = FakeServer()
    server.on("active_signals", Answer(structured={"detectors_running": True, "signals": list(signals)}))
    return await no_new_signal(
        server, Check(check="no_new_signal", kinds=kinds or ["oom"]), TARGET, VerifyMemo(ACTED)
    )


async def test_a_kill_dated_after_the_fix_fails_it() -> None:
    late = ACTED + RECORD_LAG + timedelta(milliseconds=100)
    assert await look(signal(occurred_at=late, last_seen=late)) is False


async def test_a_kill_recorded_just_after_the_fix_or_refreshed_later_is_the_old_kill() -> None:
    # the engine recorded the exit 16 ms after the raise returned; the watcher saw it later still
    just_after = ACTED + timedelta(milliseconds=16)
    assert await look(signal(occurred_at=just_after, last_seen=ACTED + timedelta(seconds=3))) is True
    # a poll re-reading the old kill moves last_seen only
    before = ACTED - timedelta(seconds=20)
    assert await look(signal(occurred_at=before, last_seen=ACTED + timedelta(seconds=30))) is True


async def test_without_an_engine_date_a_sighting_after_the_fix_fails_it() -> None:
    assert await look(signal("hung", last_seen=ACTED + timedelta(seconds=2)), kinds=["hung"]) is False
    assert await look(signal("hung", last_seen=ACTED - timedelta(seconds=2)), kinds=["hung"]) is True


async def test_other_kinds_and_other_services_do_not_count() -> None:
    late = ACTED + timedelta(minutes=1)
    assert await look(signal("crash_loop", occurred_at=late, last_seen=late)) is True
    assert await look(signal(service="worker", occurred_at=late, last_seen=late)) is True
