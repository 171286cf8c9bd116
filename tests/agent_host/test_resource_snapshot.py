"""A closed incident keeps its target's memory and CPU history (the dashboard's plot of an old
incident works after the server's watcher forgot the samples): read once with stats_history when
it closes, bounded, and a failed read never stops the close. The loop runs on the scripted server."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_host.diagnosis.resources import (
    CONTEXT_KEY,
    MAX_CONTAINERS,
    MAX_POINTS,
    snapshot_resources,
    window_minutes,
)
from agent_host.incidents.model import Incident
from tests.agent_host.loop.conftest import Loop, make_loop, make_signal, script_quiet_stack
from tests.agent_host.loop.fakes import Answer

pytestmark = pytest.mark.anyio

OOM = {"exit_code": 137, "oom_killed": True}
SPIKE = 10**9


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def history(containers: int = 6, samples: int = 1000) -> dict[str, Any]:
    """A stats_history answer bigger than what an incident keeps, with one memory spike each."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(containers):
        points = [
            {
                "at": (start + timedelta(seconds=15 * i)).isoformat(),
                "memory_used_bytes": SPIKE if i == 612 else 1000 + i,
                "cpu_percent": 4.0,
            }
            for i in range(samples)
        ]
        rows.append(
            {
                "container": f"shop-api-{n + 1}",
                "service": "api",
                "memory_limit_bytes": 64 * 1024 * 1024,
                "memory_limit_set": True,
                "cpu_limit_cpus": None,
                "samples": points,
            }
        )
    return {"containers": rows, "notes": []}


async def closed_oom_incident(loop: Loop) -> Incident:
    script_quiet_stack(loop.server)
    (incident_id,) = await loop.monitor.handle_signals([make_signal("oom", evidence=OOM)])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.closed, incident
    return incident


def history_calls(loop: Loop) -> list[dict[str, Any]]:
    return [arguments for name, arguments, _ in loop.server.calls if name == "stats_history"]


async def test_a_closed_incident_keeps_its_targets_history_once_and_bounded(tmp_path: Path) -> None:
    async with make_loop(tmp_path) as loop:
        loop.server.on("stats_history", Answer(structured=history()))
        incident = await closed_oom_incident(loop)
        kept = incident.context[CONTEXT_KEY]
        assert len(kept["containers"]) == MAX_CONTAINERS
        assert kept["notes"] == ["2 more containers not kept"]
        for row in kept["containers"]:
            assert row["memory_limit_bytes"] == 64 * 1024 * 1024 and row["memory_limit_set"] is True
            assert len(row["samples"]) == MAX_POINTS
            stamps = [s["at"] for s in row["samples"]]
            assert stamps == sorted(stamps)
            assert max(s["memory_used_bytes"] for s in row["samples"]) == SPIKE  # the spike stays
        (arguments,) = history_calls(loop)  # the target, from 10 minutes before it opened
        assert {k: arguments[k] for k in ("app_name", "service", "host")} == {
            "app_name": "shop",
            "service": "api",
            "host": "local",
        }
        assert 10 <= arguments["minutes"] <= 12
        # saved again (a later step, a restart): the history is not read again
        await loop.deps.save(incident, "done", "learn")
        assert len(history_calls(loop)) == 1
        stored = await loop.store.get(incident.id)
        assert stored is not None and stored.context[CONTEXT_KEY] == kept


async def test_a_failed_read_never_stops_the_close(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    def broken(_arguments: dict[str, Any]) -> Answer:
        raise ConnectionError("server went away")

    caplog.set_level(logging.WARNING, logger="agent_host.diagnosis.resources")
    async with make_loop(tmp_path) as loop:
        loop.server.on("stats_history", broken)
        incident = await closed_oom_incident(loop)
        assert incident.status == "resolved" and CONTEXT_KEY not in incident.context
        assert len(history_calls(loop)) >= 1
        assert "could not read the resource history of shop: server went away" in caplog.text
        # a tool error is logged the same way
        loop.server.on("stats_history", Answer(ok=False, error="no app named 'shop'"))
        assert await snapshot_resources(loop.server, incident) is None
        assert "stats_history for shop failed: no app named 'shop'" in caplog.text


async def test_the_window_and_incidents_without_an_app(tmp_path: Path) -> None:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    incident = Incident(
        id="i1", fingerprint="f", target={"domain": "shop.example"}, target_key="domain:shop.example",
        kind="domain_down", severity="critical", summary="down", opened_at=now - timedelta(minutes=5),
    )  # fmt: skip
    assert window_minutes(incident, now) == 15.0
    assert window_minutes(incident.model_copy(update={"opened_at": now - timedelta(hours=3)}), now) == 60.0
    async with make_loop(tmp_path) as loop:
        assert await snapshot_resources(loop.server, incident, now) is None  # nothing to plot
        assert history_calls(loop) == []
