"""Incidents as the real loop leaves them (a signal → `new_incident`, facts from `compute_facts`, a
decision, the plan's actions, the verification, closed by learn / escalate), and an incident store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from agent_host.diagnosis.facts import compute_facts
from agent_host.incidents.database import Database
from agent_host.incidents.grouping import new_incident
from agent_host.incidents.model import ActionRecord, Decision, Incident
from agent_host.incidents.store import IncidentStore

RUNBOOKS = {"oom": "oom-killed", "crash_loop": "crash-loop", "disk_pressure": "disk-filling"}
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def signal(
    kind: str,
    service: str,
    *,
    app: str = "shop",
    evidence: dict[str, Any] | None = None,
    summary: str | None = None,
    seen: datetime = T0,
) -> dict[str, Any]:
    """A signal as the server's watcher reports it (the shape `new_incident` reads)."""
    return {
        "id": f"{kind}-{app}-{service}",
        "kind": kind,
        "severity": "critical",
        "summary": summary or f"{service} {kind}",
        "target": {
            "kind": "container", "host": "local", "project": app, "service": service,
            "name": f"{app}-{service}-1", "app_name": app, "container_name": f"{app}-{service}-1",
        },
        "evidence": evidence or {},
        "runbook": RUNBOOKS.get(kind, kind),
        "first_seen": seen.isoformat(),
        "last_seen": seen.isoformat(),
        "status": "active",
    }  # fmt: skip


def incident(
    kind: str,
    service: str,
    *,
    app: str = "shop",
    evidence: dict[str, Any] | None = None,
    summary: str | None = None,
    outcome: Literal["worked", "failed", "escalated", "open"] = "worked",
    solution: str = "restart",
    tool: str = "restart_service",
    arguments: dict[str, Any] | None = None,
    minutes: float = 0,
    recover_s: float = 40,
    model_root_cause: str | None = None,
) -> Incident:
    """An incident the loop opened from one signal and (unless `open`) closed with `outcome`:
    worked = the fix ran and verified healthy (learn); failed = the fix ran, verification unhealthy,
    rolled back and escalated; escalated = no fix applied."""
    seen = T0 + timedelta(minutes=minutes)
    sig = signal(kind, service, app=app, evidence=evidence, summary=summary, seen=seen)
    inc = new_incident(sig)
    inc.opened_at = seen
    inc.facts = compute_facts(
        signals=inc.signals, target=inc.target, context={}, graph=None, health=None, history={}, now=seen
    )
    if outcome == "open":
        return inc
    decision = Decision(
        runbook=inc.runbook, solution=solution, solution_title=solution.replace("-", " ").capitalize(),
        confidence=0.9, threshold=0.8, risk="low", route="auto",
        reasons=[f"{inc.runbook}/{solution}: conditions hold"],
    )  # fmt: skip
    if model_root_cause:
        decision.mode = "model"
        decision.reasons.insert(0, f"model gpt-oss:20b (think low): root cause: {model_root_cause}")
    inc.decision = decision
    if outcome == "escalated":
        decision.route = "escalate"
        decision.solution = decision.solution_title = None
        decision.escalation = [f"{inc.runbook}: escalation rule holds"]
        inc.close("escalated", "needs a human: no safe fix", "escalate")
        inc.closed_at = seen + timedelta(seconds=5)
        return inc
    args = {"app_name": app, "service": service, **(arguments or {})}
    inc.actions.append(
        ActionRecord(
            key=f"{inc.id}:act:0", tool=tool, arguments=args, ok=True, at=seen + timedelta(seconds=5)
        )
    )
    if outcome == "worked":
        inc.verification = {"verdict": "healthy", "window_s": 30}
        inc.close("resolved", f"resolved by {solution} in {recover_s:.0f} s", "learn")
        inc.closed_at = seen + timedelta(seconds=recover_s)
    else:
        inc.verification = {"verdict": "unhealthy", "window_s": 30}
        inc.note("rollback", "nothing to undo (the solution has no undo)")
        inc.close("escalated", "needs a human: verification unhealthy", "escalate")
        inc.closed_at = seen + timedelta(seconds=60)
    return inc


OOM = {"exit_code": 137, "oom_killed": True}


def varied_incidents() -> list[Incident]:
    """Six different failures on different services (one of them an OOM on `api`)."""
    return [
        incident("oom", "api", evidence=OOM, solution="raise-memory", tool="set_memory_limit",
                 arguments={"memory": "256m"}, minutes=1),
        incident("disk_pressure", "db", evidence={"used_percent": 97},
                 summary="disk 97% full on /var/lib/docker", solution="prune-images", tool="prune_images", minutes=2),
        incident("crash_loop", "worker", evidence={"exit_codes": [1, 1, 1], "exits_in_window": 6,
                 "last_log_lines": ["KeyError: 'DATABASE_URL'", "worker exited"]},
                 summary="worker restarting in a loop", outcome="escalated", minutes=3),
        incident("unhealthy", "web", summary="web health check failing", minutes=4),
        incident("cpu_saturation", "search", evidence={"cpu_share_percent": 190},
                 summary="search burns 190% CPU", solution="restart", minutes=5),
        incident("domain_down", "proxy", evidence={"http": {"status": 502}},
                 summary="shop.example.com answers 502", outcome="failed", minutes=6),
    ]  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[IncidentStore]:
    db = Database(sqlite_path=tmp_path / "agent.db")
    try:
        yield IncidentStore(db)
    finally:
        db.close()
