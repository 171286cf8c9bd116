"""Each route of the incident graph, driven on a scripted server with the real graph, checkpointer,
store and approval book: what is called, what is recorded, how the incident ends."""

from __future__ import annotations

import pytest

from agent_host.approvals import ApprovalError

from .conftest import Loop, healthy_service, make_signal, script_quiet_stack
from .fakes import Answer

pytestmark = pytest.mark.anyio


async def open_incident(loop: Loop, signal: dict) -> str:
    opened = await loop.monitor.handle_signals([signal])
    assert len(opened) == 1
    return opened[0]


async def test_oom_is_fixed_by_raising_the_limit_and_verified(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    incident_id = await open_incident(
        loop, make_signal("oom", evidence={"exit_code": 137, "oom_killed": True})
    )
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None
    assert incident.status == "resolved", incident.events
    assert incident.decision is not None and incident.decision.route == "auto"
    assert incident.decision.solution == "raise-memory-limit"
    assert any("oom_killed equals True: yes" in r for r in incident.decision.reasons)
    # one real change, with the incident's idempotency key, twice the old limit
    assert loop.server.mutations() == [
        ("set_memory_limit", {"app_name": "shop", "service": "api", "memory": "128m"})
    ]
    real = [c for c in loop.server.calls if c[0] == "set_memory_limit" and c[2]]
    assert real[0][2] == f"{incident_id}:act:0"
    assert incident.verification is not None and incident.verification["verdict"] == "healthy"
    fixes = await loop.store.fixes_for(incident.target_key)
    assert [(f.solution, f.outcome) for f in fixes] == [("raise-memory-limit", "worked")]
    assert "runbook-only" in incident.events[0].message  # the mode is in every incident record


async def test_infraguardian_itself_is_escalated_without_trying_a_fix(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    signal = make_signal("oom", evidence={"exit_code": 137, "oom_killed": True})
    signal["target"]["labels"] = {"io.infraguardian.self": "true"}  # as the server marks its own containers
    incident_id = await open_incident(loop, signal)
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated", incident.events
    assert incident.target["infraguardian_self"] is True
    assert incident.decision is not None and any(
        "InfraGuardian's own container" in r for r in incident.decision.escalation
    )
    assert loop.server.mutations() == []  # not even tried (the server would refuse it anyway)
    assert incident.actions == [] and incident.plan == []


async def test_a_command_that_cannot_run_escalates_without_touching_anything(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on("service_status", healthy_service(running=False))
    loop.server.on("deployment_history", Answer(structured={"deployments": [], "snapshots": 0}))
    signal = make_signal("crash_loop", evidence={"exit_codes": [127, 127, 127], "exits_in_window": 3})
    incident_id = await open_incident(loop, signal)
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert "the image's command cannot run" in (incident.outcome or "")
    assert loop.server.mutations() == []


async def test_a_refused_fix_is_recorded_as_failed_and_escalated(loop: Loop) -> None:
    script_quiet_stack(loop.server)

    def refuse_real_call(args: dict) -> Answer:
        if args.get("dry_run"):
            return Answer(structured={"ok": True, "service": "api", "containers": []})
        return Answer(
            ok=False, refused=True, error="budget for service:local/shop/api used up (3 of 3 per hour)"
        )

    loop.server.on("set_memory_limit", refuse_real_call)
    incident_id = await open_incident(
        loop, make_signal("oom", evidence={"exit_code": 137, "oom_killed": True})
    )
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert "refused" in (incident.outcome or "") and "budget" in (incident.outcome or "")
    assert [(f.solution, f.outcome) for f in await loop.store.fixes_for(incident.target_key)] == [
        ("raise-memory-limit", "failed")
    ]
    assert any("nothing to undo" in e.message for e in incident.events)


async def test_a_fix_that_made_it_worse_is_undone(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    # right after the raise, a new OOM kill of the same service
    loop.server.on(
        "active_signals",
        lambda _args: Answer(structured={"signals": [{"kind": "oom", "target": {"service": "api"}, "last_seen": "2999-01-01T00:00:00+00:00"}]}),
    )  # fmt: skip
    incident_id = await open_incident(
        loop, make_signal("oom", evidence={"exit_code": 137, "oom_killed": True})
    )
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert incident.verification is not None and incident.verification["verdict"] == "unhealthy"
    assert [m[1]["memory"] for m in loop.server.mutations()] == ["128m", "64m"]  # raised, then restored
    assert [a.key for a in incident.actions] == [f"{incident_id}:act:0", f"{incident_id}:undo:0"]
    assert [(f.outcome) for f in await loop.store.fixes_for(incident.target_key)] == ["made_worse"]


async def test_a_prune_always_asks_and_a_denial_changes_nothing(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on(
        "disk_usage",
        Answer(structured={"filesystem": {"used_percent": 97.0}, "kinds": [
            {"kind": "images", "reclaimable_bytes": 2_000_000_000}, {"kind": "build_cache", "reclaimable_bytes": 500},
        ]}),
    )  # fmt: skip
    loop.server.on(
        "prune", lambda args: Answer(structured={"dry_run": bool(args.get("dry_run")), "space": "2 GB"})
    )
    signal = make_signal("disk_pressure", evidence={"used_percent": 97.0})
    signal["target"] = {"kind": "path", "host": "local", "name": "/var/lib/docker"}
    incident_id = await open_incident(loop, signal)
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    assert incident.facts["prune_reclaimable_bytes"] == 2_000_000_500
    assert incident.facts["filling_is_data_volume"] is False
    (request,) = await loop.book.pending()
    assert request.changes == ["prune(what=['images', 'build_cache'])"]
    await loop.book.answer(request.id, approve=False, by="cli:root")
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert f"approval {request.id} denied by cli:root" in (incident.outcome or "")
    assert loop.server.mutations() == []
    assert [c[1].get("dry_run") for c in loop.server.calls if c[0] == "prune"] == [
        True,
        True,
    ]  # context + plan


async def test_a_filling_data_volume_is_never_pruned(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on(
        "disk_usage", Answer(structured={"kinds": [{"kind": "images", "reclaimable_bytes": 10**9}]})
    )
    loop.server.on("prune", Answer(structured={"dry_run": True}))
    signal = make_signal("disk_pressure", evidence={"used_percent": 95.0})
    signal["target"] = {"kind": "volume", "host": "local", "name": "shop_pgdata"}
    incident_id = await open_incident(loop, signal)
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert "a data volume is what is filling" in (incident.outcome or "")
    assert await loop.book.pending() == []


async def test_approval_is_asked_with_the_exact_change_and_answered_once(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    # a service whose fix is a rollback (risk medium): needs a human
    loop.server.on("service_status", healthy_service(running=False))
    loop.server.on(
        "deployment_history",
        Answer(structured={"deployments": [
            {"deployment_id": "d2", "status": "done", "finished_at": "2999-01-01T00:00:00+00:00"},
            {"deployment_id": "d1", "status": "done", "finished_at": "2998-01-01T00:00:00+00:00"},
        ], "snapshots": 2}),
    )  # fmt: skip
    loop.server.on(
        "rollback",
        lambda args: Answer(structured={"ok": True, "compose_diff": "-image: api:2\n+image: api:1"}),
    )
    incident_id = await open_incident(
        loop, make_signal("crash_loop", evidence={"exit_codes": [1, 1, 1], "exits_in_window": 3})
    )
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "awaiting_approval", incident.events
    pending = await loop.book.pending()
    assert len(pending) == 1
    request = pending[0]
    assert "compose diff" in request.changes[0] and "+image: api:1" in request.changes[0]
    assert loop.server.mutations() == []  # only the dry run so far

    await loop.book.answer(request.id, approve=True, by="cli:root")
    with pytest.raises(ApprovalError, match="already approved"):
        await loop.book.answer(request.id, approve=False, by="cli:root")
    await loop.monitor.handle_approvals()  # resumes the paused thread in a task…
    await loop.monitor.drive(incident_id)  # …or directly, as here: the same thread, no second run
    incident = await loop.store.get(incident_id)
    assert incident is not None
    assert [m[0] for m in loop.server.mutations()] == ["rollback"]
    assert loop.server.confirmed == ["rollback"]  # the human's yes answers the server's question too
    assert incident.status in ("resolved", "escalated")
    assert any("approved by cli:root" in e.message for e in incident.events)


async def test_a_health_check_that_cannot_run_is_a_config_problem_not_a_restart(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    status = healthy_service()
    assert status.structured is not None
    status.structured["containers"][0].update(
        health="unhealthy",
        last_probe='OCI runtime exec failed: exec: "curl": executable file not found in $PATH',
    )
    loop.server.on("service_status", status)
    loop.server.on("restart_service", Answer(structured={"ok": True}))
    incident_id = await open_incident(loop, make_signal("unhealthy", evidence={"failing_streak": 5}))
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None and incident.status == "escalated"
    assert incident.facts["healthcheck_cannot_run"] is True
    assert "health check's own command cannot run" in (incident.outcome or "")
    assert loop.server.mutations() == []  # a restart would not fix the check


async def test_a_crash_loop_caused_by_a_down_database_blames_the_database(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    loop.server.on(
        "compose_health",
        Answer(structured={"verdict": "degraded", "services": [
            {"service": "api", "verdict": "down", "containers": []},
            {"service": "db", "verdict": "down", "containers": []},
        ]}),
    )  # fmt: skip
    loop.server.on("service_status", healthy_service(running=False))
    loop.server.on("deployment_history", Answer(structured={"deployments": [], "snapshots": 0}))
    loop.server.on("restart_service", Answer(structured={"ok": True}))
    incident_id = await open_incident(
        loop, make_signal("crash_loop", "api", evidence={"exit_codes": [1, 1, 1]})
    )
    await loop.monitor.drive(incident_id)
    incident = await loop.store.get(incident_id)
    assert incident is not None
    assert incident.target_key == "service:local/shop/db" and incident.runbook == "dependency-down"
    assert incident.affected == ["service:local/shop/api"]
    assert any("blames the dependency db" in e.message for e in incident.events), [
        e.message for e in incident.events
    ]
    # the dependency is what gets restarted first; the victim only once it is fixed and still broken
    mutations = loop.server.mutations()
    assert mutations[0] == ("restart_service", {"app_name": "shop", "service": "db"}), incident.events
    assert incident.status == "resolved" or all(m[1].get("service") != "api" for m in mutations)


async def test_a_victim_joins_the_open_incident_of_its_dependency(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    db_incident = await open_incident(loop, make_signal("exited", "db", evidence={"exit_code": 1}))
    loop.server.on(
        "compose_health",
        Answer(structured={"verdict": "degraded", "services": [
            {"service": "api", "verdict": "down", "containers": []},
            {"service": "db", "verdict": "down", "containers": []},
        ]}),
    )  # fmt: skip
    loop.server.on("deployment_history", Answer(structured={"deployments": [], "snapshots": 0}))
    api_incident = await open_incident(
        loop, make_signal("crash_loop", "api", evidence={"exit_codes": [1, 1, 1]})
    )
    await loop.monitor.drive(api_incident)
    merged = await loop.store.get(api_incident)
    assert merged is not None and merged.status == "merged" and db_incident in (merged.outcome or "")
    parent = await loop.store.get(db_incident)
    assert parent is not None and [s["kind"] for s in parent.signals] == ["exited", "crash_loop"]
    assert parent.affected == ["service:local/shop/api"]
    assert loop.server.mutations() == []


async def test_after_the_dependency_is_fixed_broken_dependants_restart_in_start_order(loop: Loop) -> None:
    script_quiet_stack(loop.server)
    down = Answer(structured={"verdict": "degraded", "services": [
        {"service": "web", "verdict": "down", "containers": []},
        {"service": "api", "verdict": "down", "containers": []},
        {"service": "db", "verdict": "down", "containers": []},
    ]})  # fmt: skip
    fixed_db = Answer(structured={"verdict": "degraded", "services": [
        {"service": "web", "verdict": "down", "containers": []},
        {"service": "api", "verdict": "down", "containers": []},
        {"service": "db", "verdict": "ok", "containers": []},
    ]})  # fmt: skip
    restarted: list[str] = []
    loop.server.on("compose_health", lambda _a: fixed_db if restarted else down)
    loop.server.on(
        "compose_graph",
        Answer(structured={"start_order": ["db", "api", "web"], "services": [
            {"name": "db", "kind": "database", "depends_on": [], "upstream": [], "blast_radius": ["api", "web"]},
        ]}),
    )  # fmt: skip
    loop.server.on("service_status", healthy_service(running=False))

    def restart(args: dict) -> Answer:
        restarted.append(args["service"])
        return Answer(structured={"ok": True})

    loop.server.on("restart_service", restart)
    db_id = await open_incident(loop, make_signal("exited", "db", evidence={"exit_code": 1}))
    incident = await loop.store.get(db_id)
    assert incident is not None
    incident.affected = ["service:local/shop/web", "service:local/shop/api"]
    await loop.store.save(incident)
    loop.server.on("service_status", lambda _a: healthy_service(running=bool(restarted)))
    await loop.monitor.drive(db_id)
    incident = await loop.store.get(db_id)
    assert incident is not None and incident.status == "resolved", incident.events
    assert restarted == ["db", "api", "web"]  # the dependency, then its victims in start order
    assert [a.key for a in incident.actions][-2:] == [f"{db_id}:dependant:0", f"{db_id}:dependant:1"]
