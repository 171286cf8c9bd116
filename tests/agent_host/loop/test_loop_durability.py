"""Killing the agent mid-incident loses nothing and repeats nothing; flap protection never loops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_host.incidents.model import CLOSED

from .conftest import Loop, healthy_service, make_loop, make_signal, script_quiet_stack
from .fakes import Answer, Crash, FakeServer

pytestmark = pytest.mark.anyio

OOM = {"exit_code": 137, "oom_killed": True}


async def test_killed_right_after_the_server_acted_resumes_without_acting_again(
    tmp_path: Path, database_url: str | None
) -> None:
    server = FakeServer()
    script_quiet_stack(server)
    server.crash_after_executing = "set_memory_limit"
    async with make_loop(tmp_path, server, database_url=database_url) as first:
        (incident_id,) = await first.monitor.handle_signals([make_signal("oom", evidence=OOM)])
        with pytest.raises(Crash):
            await first.monitor.drive(incident_id)
    assert len(server.executed) == 1  # the server changed the limit; the agent never heard back

    async with make_loop(
        tmp_path, server, database_url=database_url, fresh=False
    ) as second:  # after a restart
        unfinished = await second.store.unfinished()
        assert [i.id for i in unfinished] == [incident_id]
        await second.monitor.drive(incident_id)
        incident = await second.store.get(incident_id)
    assert incident is not None and incident.status == "resolved", incident.events
    assert len(server.executed) == 1  # not repeated: the same key was answered from the record
    (action,) = incident.actions
    assert action.replayed and action.key == f"{incident_id}:act:0"
    # the context calls before the kill were not made again either
    assert [c[0] for c in server.calls].count("compose_graph") == 1


async def test_an_incident_finished_before_a_restart_is_not_run_again(
    tmp_path: Path, database_url: str | None
) -> None:
    server = FakeServer()
    script_quiet_stack(server)
    async with make_loop(tmp_path, server, database_url=database_url) as first:
        (incident_id,) = await first.monitor.handle_signals([make_signal("oom", evidence=OOM)])
        await first.monitor.drive(incident_id)
    calls = len(server.calls)
    async with make_loop(tmp_path, server, database_url=database_url, fresh=False) as second:
        assert await second.store.unfinished() == []
        # the same signal, still active on the server, opens nothing new…
        assert await second.monitor.handle_signals([make_signal("oom", evidence=OOM)]) == []
        # …and driving the closed thread again does nothing
        await second.monitor.drive(incident_id)
    assert len(server.calls) == calls


async def test_three_failed_fixes_block_the_target_and_escalate(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    signal = make_signal("oom", evidence=OOM)
    key = "service:local/shop/api"
    now = datetime.now(UTC)
    for n in range(3):
        await loop.store.record_fix(
            f"old-{n}", key, "raise-memory-limit", "failed", now - timedelta(minutes=20 + n)
        )
    (incident_id,) = await loop.monitor.handle_signals([signal])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert any("3 failed fixes in a row: target blocked" in r for r in incident.decision.reasons)  # type: ignore[union-attr]
    assert loop.server.mutations() == []


async def test_a_fix_that_failed_twice_here_needs_a_human(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on("service_status", healthy_service(running=False))
    now = datetime.now(UTC)
    key = "service:local/shop/api"
    await loop.store.record_fix("a", key, "restart-once", "failed", now - timedelta(hours=3))
    await loop.store.record_fix("b", key, "restart-once", "worked", now - timedelta(hours=2, minutes=30))
    await loop.store.record_fix("c", key, "restart-once", "failed", now - timedelta(hours=2))
    (incident_id,) = await loop.monitor.handle_signals([make_signal("exited", evidence={"exit_code": 1})])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    assert incident.decision is not None and incident.decision.route == "approval"
    assert any("restart-once failed 2 times here" in r for r in incident.decision.reasons)
    assert loop.server.mutations() == []


async def test_a_target_fixed_moments_ago_waits_out_its_cooldown_first(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on("service_status", healthy_service(running=False))
    loop.server.on("restart_service", Answer(structured={"ok": True}))
    start = datetime.now(UTC)
    await loop.store.record_fix(
        "a", "service:local/shop/api", "restart-once", "worked", start - timedelta(seconds=10)
    )
    loop.deps.clock = lambda: start + timedelta(seconds=sum(loop.sleeps))
    (incident_id,) = await loop.monitor.handle_signals([make_signal("exited", evidence={"exit_code": 1})])
    await loop.monitor.drive(incident_id)
    waited = sum(s for s in loop.sleeps if s > 1)
    assert 285 <= waited <= 295  # cooldown 300 s minus the 10 s already passed
    assert loop.server.mutations() == [("restart_service", {"app_name": "shop", "service": "api"})]
    incident = await loop.store.get(incident_id)
    assert incident is not None and any("waiting 29" in e.message for e in incident.events)


async def test_an_oom_right_after_a_raise_is_a_leak_for_a_human(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    start = datetime.now(UTC)
    await loop.store.record_fix(
        "a", "service:local/shop/api", "raise-memory-limit", "worked", start - timedelta(minutes=30)
    )
    (incident_id,) = await loop.monitor.handle_signals([make_signal("oom", evidence=OOM)])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert "OOM-killed again after one raise" in (incident.outcome or "")
    assert loop.server.mutations() == []


async def test_signals_are_grouped_by_root_cause(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    first = make_signal("oom", "db", evidence=OOM)
    (incident_id,) = await loop.monitor.handle_signals([first])
    incident = await loop.store.get(incident_id)
    assert incident is not None
    incident.facts["dependants"] = ["api", "web"]  # what analyze_compose learns from the graph
    await loop.store.save(incident)
    # the same signal again, and the api's crash loop caused by it: no new incident
    assert await loop.monitor.handle_signals([first, make_signal("crash_loop", "api")]) == []
    incident = await loop.store.get(incident_id)
    assert incident is not None and [s["kind"] for s in incident.signals] == ["oom", "crash_loop"]
    # a service of another stack is its own incident
    other = make_signal("oom", "api")
    other["target"] = {**other["target"], "app_name": "blog", "project": "blog"}
    assert len(await loop.monitor.handle_signals([other])) == 1


def test_the_store_queries_name_exactly_the_closed_statuses() -> None:
    assert {"resolved", "escalated", "merged"} == CLOSED


async def test_a_lost_answer_is_asked_for_again_with_the_same_key_not_redone(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.lose_answer_of = "set_memory_limit"
    (incident_id,) = await loop.monitor.handle_signals([make_signal("oom", evidence=OOM)])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "resolved", incident.events
    assert len(loop.server.executed) == 1
    (action,) = incident.actions
    assert action.ok and action.replayed
    keys = [c[2] for c in loop.server.calls if c[0] == "set_memory_limit" and c[2]]
    assert keys == [f"{incident_id}:act:0", f"{incident_id}:act:0"]


async def test_an_action_whose_outcome_stays_unknown_is_not_undone_and_is_said_so(loop: Loop) -> None:
    """The server was killed mid-action: its record says the outcome is unknown. Neither "nothing
    was changed" nor an undo (lowering a limit that may never have been raised) would be honest."""
    script_quiet_stack(loop.server)
    lost = Answer(ok=False, outcome_unknown=True, error="the server stopped while it ran; outcome unknown")
    planned = loop.server.answers["set_memory_limit"]  # the dry run still answers
    loop.server.on("set_memory_limit", lambda args: planned(args) if args.get("dry_run") else lost)
    (incident_id,) = await loop.monitor.handle_signals([make_signal("oom", evidence=OOM)])
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    notes = [e.message for e in incident.events if e.step == "rollback"]
    assert any(
        "outcome of set_memory_limit" in n and "unknown" in n and "a human must check" in n for n in notes
    )
    assert not any("nothing was changed" in n for n in notes)
    assert not any(":undo:" in a.key for a in incident.actions)  # no undo was sent
