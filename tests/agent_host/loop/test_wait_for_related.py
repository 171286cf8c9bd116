"""Two incidents, one root cause: the database stops, the api and the worker turn unhealthy. The
incident that blamed the database restarts it; the worker's incident, diagnosed a moment later,
sees no down dependency any more and would restart the worker — a victim that heals by itself.
`wait_for_related` waits for the database's fix and closes the worker's incident with nothing done
when it recovered (found by the lab's dependency-outage scenario, about one run in two)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.incidents.store import IncidentStore
from agent_host.loop.deps import LoopDeps
from agent_host.loop.nodes import wait_for_related
from agent_host.loop.state import LoopState
from agent_host.settings import AgentSettings
from mcp_server.runbooks import RunbookLibrary

from .fakes import Answer, FakeServer

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
GRAPH = {
    "services": [
        {"name": "db", "kind": "database", "depends_on": [], "upstream": [], "blast_radius": ["api", "worker"]},
        {"name": "worker", "kind": "app", "depends_on": ["db"], "upstream": ["db"], "blast_radius": []},
        {"name": "cache", "kind": "cache", "depends_on": [], "upstream": [], "blast_radius": []},
    ]
}  # fmt: skip


class Clock:
    """Time that moves only when the node sleeps: the waits are exact and instant."""

    def __init__(self) -> None:
        self.at = START
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.at += timedelta(seconds=seconds)


def worker_status(health: str) -> Answer:
    return Answer(
        structured={
            "containers": [{"name": "shop-worker-1", "status": "running", "health": health, "restarts": 0}]
        }
    )


def healthy_from_look(look: int) -> Any:
    """A worker unhealthy until its `look`-th look (1-based; each look reads its status twice:
    the running check and the healthy check), healthy from then on."""
    calls = {"n": 0}

    def answer(_args: dict[str, Any]) -> Answer:
        calls["n"] += 1
        return worker_status("healthy" if (calls["n"] + 1) // 2 >= look else "unhealthy")

    return answer


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[LoopDeps, FakeServer, Clock]]:
    settings = AgentSettings(
        state_dir=tmp_path, verify_window_max_s=20, verify_interval_s=1, related_fix_window_s=60,
        related_settle_s=5,
    )  # fmt: skip
    db = settings.open_database()
    server, clock = FakeServer(), Clock()
    deps = LoopDeps(
        link=server, library=RunbookLibrary.load(), store=IncidentStore(db), settings=settings,
        clock=clock.now, sleep=clock.sleep,
    )  # fmt: skip
    yield deps, server, clock
    db.close()


def worker_incident() -> Incident:
    """The worker's incident as diagnose leaves it: restart it once (no down dependency seen)."""
    incident = Incident(
        id="inc-worker", fingerprint="service:local/shop/worker", target_key="service:local/shop/worker",
        target={"host": "local", "app_name": "shop", "service": "worker"}, kind="unhealthy",
        severity="warning", summary="worker unhealthy", runbook="unhealthy",
        context={"_graph": {"structured": GRAPH}}, facts={"upstream_down": [], "health": "unhealthy"},
    )  # fmt: skip
    incident.decision = Decision(runbook="unhealthy", solution="restart-once-unprobed", route="auto")
    return incident


def other_incident(service: str, status: str, acted_s_ago: float, **extra: Any) -> Incident:
    """Another incident of the app that restarted `service` `acted_s_ago` seconds ago."""
    incident = Incident(
        id=f"inc-{service}", fingerprint=f"service:local/shop/{service}",
        target_key=f"service:local/shop/{service}", target={"host": "local", "app_name": "shop", "service": service},
        kind="unhealthy", severity="warning", summary=f"{service} down", runbook="dependency-down",
        status=status, facts={"dependants": ["api", "worker"] if service == "db" else []}, **extra,
    )  # fmt: skip
    incident.decision = Decision(runbook="dependency-down", solution="restart-dependency", route="auto")
    at = START - timedelta(seconds=acted_s_ago)
    incident.actions = [
        ActionRecord(key=f"{incident.id}:act:0", tool="restart_service", arguments={}, ok=True, at=at)
    ]
    if status == "resolved":
        incident.closed_at = at + timedelta(seconds=3)
    return incident


def state_of(incident: Incident) -> LoopState:
    return {"incident": incident.model_dump(mode="json"), "route": "auto"}


async def test_a_victim_that_recovers_once_its_dependency_is_fixed_is_closed_with_nothing_done(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    deps, server, clock = setup
    await deps.store.save(other_incident("db", "verifying", acted_s_ago=2))
    server.on("service_status", healthy_from_look(3))  # the worker reconnects a few seconds later
    result = await wait_for_related.run(state_of(worker_incident()), deps)
    assert result["route"] == "done"
    incident = Incident.model_validate(result["incident"])
    assert incident.status == "resolved" and incident.actions == []
    assert incident.outcome == "recovered once db was fixed by inc-db: nothing done"
    assert len(clock.sleeps) == 2  # it waited, looked again, and stopped as soon as it was healthy
    assert server.mutations() == []


async def test_a_victim_still_failing_after_the_wait_goes_on_with_its_fix(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    deps, server, clock = setup
    await deps.store.save(other_incident("db", "resolved", acted_s_ago=4))  # closed 1 s ago
    server.on("service_status", lambda _args: worker_status("unhealthy"))
    result = await wait_for_related.run(state_of(worker_incident()), deps)
    assert result["route"] == "auto"  # diagnose's decision stands: plan the restart
    incident = Incident.model_validate(result["incident"])
    assert incident.status == "open"
    assert incident.events[-1].message.startswith(wait_for_related.DONE_WAITING)
    # bounded: the db's close (1 s ago) + 5 s settle → 4 s of waiting
    assert sum(clock.sleeps) == pytest.approx(4)
    # and only once: the same incident through the node again does not wait
    before = len(clock.sleeps)
    again = await wait_for_related.run(state_of(incident), deps)
    assert again["route"] == "auto" and len(clock.sleeps) == before


async def test_an_unrelated_incident_of_the_app_is_not_waited_for(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    deps, server, clock = setup
    await deps.store.save(other_incident("cache", "verifying", acted_s_ago=2))  # the worker needs no cache
    server.on("service_status", lambda _args: worker_status("unhealthy"))
    result = await wait_for_related.run(state_of(worker_incident()), deps)
    assert result["route"] == "auto" and clock.sleeps == []
    assert not any(c[0] == "service_status" for c in server.calls)


async def test_a_dependency_fixed_long_ago_is_not_waited_for(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    deps, _server, clock = setup
    await deps.store.save(other_incident("db", "resolved", acted_s_ago=600))
    result = await wait_for_related.run(state_of(worker_incident()), deps)
    assert result["route"] == "auto" and clock.sleeps == []


async def test_a_victim_grouped_by_a_neighbours_incident_waits_for_it(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    """noisy-neighbour: the hog's incident lists the starved service among its victims."""
    deps, server, _clock = setup
    hog = other_incident("cache", "acting", acted_s_ago=1, affected=["service:local/shop/worker"])
    await deps.store.save(hog)
    server.on("service_status", healthy_from_look(2))
    result = await wait_for_related.run(state_of(worker_incident()), deps)
    incident = Incident.model_validate(result["incident"])
    assert (
        result["route"] == "done"
        and incident.outcome == "recovered once cache was fixed by inc-cache: nothing done"
    )


async def test_a_fix_that_restarts_nothing_is_not_held_back(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    deps, _server, clock = setup
    await deps.store.save(other_incident("db", "verifying", acted_s_ago=2))
    incident = worker_incident()
    incident.decision = Decision(runbook="oom-killed", solution="raise-memory-limit", route="auto")
    result = await wait_for_related.run(state_of(incident), deps)
    assert result["route"] == "auto" and clock.sleeps == []


async def test_an_agent_killed_mid_wait_waits_no_longer_than_before(
    setup: tuple[LoopDeps, FakeServer, Clock],
) -> None:
    """The deadline comes from the db incident's stored times, not from when the node (re)started."""
    deps, server, clock = setup
    db = other_incident("db", "verifying", acted_s_ago=2)
    await deps.store.save(db)
    server.on("service_status", lambda _args: worker_status("unhealthy"))
    deadline = wait_for_related.related_deadline(deps, db, clock.now())
    clock.at += timedelta(seconds=15)  # the agent was down 15 s mid-wait and runs the node again
    await wait_for_related.run(state_of(worker_incident()), deps)
    assert clock.at <= deadline + timedelta(seconds=deps.settings.verify_interval_s)
