"""The agent page and the live poller over a real (SQLite) agent database, without a server link:
blocked targets judged as the agent's diagnose step judges them, polls that never write, and what
the agent page builds once per dashboard rather than at every render."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import agent_host.loop.graph as loop_graph
from agent_host.approvals import ApprovalBook
from agent_host.dashboard import pages
from agent_host.dashboard.live import LiveHub
from agent_host.dashboard.sources import DashboardSources
from agent_host.incidents.model import Incident
from agent_host.incidents.store import IncidentStore
from agent_host.settings import AgentSettings
from tests.agent_host.dashboard.seed import approval_for, new_id, target

pytestmark = pytest.mark.anyio
APP = "shop-flap"


@pytest.fixture
async def sources(tmp_path: Path) -> AsyncIterator[DashboardSources]:
    settings = AgentSettings(state_dir=tmp_path)
    db = settings.open_database()
    try:
        yield DashboardSources(settings, IncidentStore(db), ApprovalBook(db))
    finally:
        db.close()


def incident_on(service: str, opened: datetime, status: Any = "resolved") -> Incident:
    where, key = target(APP, service)
    return Incident(
        id=new_id(), fingerprint=key, target=where, target_key=key, kind="crash_loop", severity="critical",
        summary=f"{service} keeps exiting", status=status, opened_at=opened, updated_at=opened,
    )  # fmt: skip


async def test_blocked_targets_are_judged_as_the_diagnose_step_judges_them(sources: DashboardSources) -> None:
    store, moment = sources.store, datetime.now(UTC)
    limit = sources.settings.flap.recurrences_to_escalate
    # api: resolved by a restart 2 min ago, so its next incident waits out the 5 min cooldown
    api = incident_on("api", moment - timedelta(minutes=3))
    await store.save(api)
    await store.record_fix(api.id, api.target_key, "restart-service", "worked", moment - timedelta(minutes=2))
    # db: still unfinished with its own fix already recorded; diagnose never counts an incident's own
    # fix, so the agent may act on it (the page used to show it cooling down)
    db = incident_on("db", moment - timedelta(minutes=3), status="acting")
    await store.save(db)
    await store.record_fix(db.id, db.target_key, "restart-service", "worked", moment - timedelta(minutes=1))
    # worker: one incident short of the recurrence limit, all closed: the next one is the limit and
    # escalates (the page used to count only the stored ones and show nothing)
    for n in range(limit - 1):
        await store.save(incident_on("worker", moment - timedelta(minutes=30 + n)))
    # web: one closed incident, no fix: nothing holds it back
    await store.save(incident_on("web", moment - timedelta(minutes=10)))

    blocked = {row["target"]: row for row in await pages._blocked(sources)}

    assert set(blocked) == {f"{APP}/api", f"{APP}/worker"}, blocked
    cooling = blocked[f"{APP}/api"]
    assert cooling["subject"] == "the next incident"
    assert 0 < cooling["wait_s"] <= 180 and "cooldown 300 s" in cooling["reasons"][0]
    assert f"{limit} incidents on this target" in blocked[f"{APP}/worker"]["reasons"][0]


async def test_a_poll_only_reads_while_a_page_render_expires_overdue_approvals(
    sources: DashboardSources,
) -> None:
    moment = datetime.now(UTC)
    overdue = approval_for(incident_on("api", moment, "awaiting_approval"), moment - timedelta(minutes=20))
    waiting = approval_for(incident_on("db", moment, "awaiting_approval"), moment)
    for request in (overdue, waiting):
        await sources.approvals.ask(request)
    hub = LiveHub(sources)
    watcher = sqlite3.connect(
        sources.settings.incident_path
    )  # data_version moves when another connection commits
    try:
        version = watcher.execute("PRAGMA data_version").fetchone()[0]
        assert await hub.poll_once() == [] and await hub.poll_once() == []
        assert (await hub.summaries())["approvals"] == [(waiting.id, "pending")]  # overdue left out
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
        assert (await sources.approvals.get(overdue.id)).status == "pending"  # type: ignore[union-attr]

        page = await pages.approvals(sources)
        assert [r["id"] for r in page["pending"]] == [waiting.id]
        assert (await sources.approvals.get(overdue.id)).status == "expired"  # type: ignore[union-attr]
        assert watcher.execute("PRAGMA data_version").fetchone()[0] != version
    finally:
        watcher.close()


async def test_the_agent_page_compiles_the_graph_once_and_keeps_reading_the_audit(
    sources: DashboardSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[object] = []
    real_build = loop_graph.build_graph

    def counted_build(*args: Any, **kwargs: Any) -> Any:
        builds.append(args)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(loop_graph, "build_graph", counted_build)
    first = await pages.agent(sources)
    outbox = sources._outbox
    assert outbox is not None  # made by the first render
    await outbox.audit(-1001, 4242, "/status", True)
    second = await pages.agent(sources)

    assert len(builds) == 1  # two renders, one compile
    assert 'data-node="diagnose"' in first["graph"] and second["graph"] == first["graph"]
    assert sources._outbox is outbox  # its tables were created once, at the first render
    assert first["telegram_audit"] == [] and [r["user_id"] for r in second["telegram_audit"]] == [4242]
