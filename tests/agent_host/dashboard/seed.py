"""A realistic agent state directory for the dashboard's browser tests and screenshots.

The records are built from the real models (`Incident`, `Decision`, `ActionRecord`, `ApprovalRequest`)
and shaped like what the agent really writes: the resolved OOM incident copies the structure of one
recorded by tests/agent_host/e2e/test_oom_raise.py (signals with evidence, context results by id,
facts, the decision's reasons, the plan with its dry run, the action, the verification, the step log).

`seed_state` fills one state directory:
- a resolved OOM incident on the live stack's `api` (limit raised 32 MiB → 64 MiB), about 2 h ago;
- an escalated crash loop on the live stack's `db` whose captured logs hold an injected `<script>`,
  an `<img onerror>` and a secret (`POSTGRES_PASSWORD=hunter2secret`): the page must show the markup
  as text and the secret redacted;
- two incidents awaiting approval, each with a pending `ApprovalRequest` bound to its plan's hash;
- older closed incidents spread over the last six days (the incidents-per-day chart).

Every write goes through `IncidentStore` / `ApprovalBook` over `AgentSettings(state_dir=...)`, the
same database the dashboard reads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from agent_host.approvals.book import ApprovalBook, ApprovalRequest, approval_id, expiry, plan_hash
from agent_host.incidents.model import ActionRecord, Decision, Incident, IncidentEvent
from agent_host.incidents.store import IncidentStore
from agent_host.loop.nodes.escalate import describe_change
from agent_host.settings import AgentSettings

MIB = 1024 * 1024
# what the browser must show as text, never run
INJECTED_SCRIPT = "<script>window.__pwned = 1</script>"
INJECTED_IMG = '<img src=x onerror="window.__pwned=2">'
SECRET_VALUE = "hunter2secret"
RUNBOOK_ONLY = (
    "runbook-only: no model configured (set OLLAMA_HOST or INFRAGUARDIAN_AGENT__MODEL__OLLAMA_HOST)"
)


@dataclass(frozen=True)
class Seeded:
    """The ids of what `seed_state` wrote, for the tests to look up."""

    resolved: str
    escalated: str  # the one with the injected markup and the secret in its evidence
    awaiting: str
    approval: str  # the pending request of `awaiting`
    awaiting_other: str
    approval_other: str  # the pending request of `awaiting_other`
    older: list[str] = field(default_factory=list)


def fenced(text: str) -> str:
    """A line as the server hands container text over: inside an untrusted-data fence."""
    nonce = secrets.token_hex(12)
    return f'<untrusted-data nonce="{nonce}">{text}</untrusted-data nonce="{nonce}">'


def new_id() -> str:
    return f"inc-{secrets.token_hex(4)}"


def events(start: datetime, steps: list[tuple[float, str, str]]) -> list[IncidentEvent]:
    """The step log: (seconds after `start`, graph node, message)."""
    return [IncidentEvent(at=start + timedelta(seconds=s), step=step, message=m) for s, step, m in steps]


def target(app: str, service: str) -> tuple[dict[str, Any], str]:
    container = f"{app}-{service}-1"
    return (
        {"host": "local", "app_name": app, "service": service, "container": container},
        f"service:local/{app}/{service}",
    )


def signal(
    kind: str, app: str, service: str, summary: str, runbook: str, at: datetime, **evidence: Any
) -> dict[str, Any]:
    """A signal as the server's detectors raise it (mcp_server.detectors.base.Signal, as JSON)."""
    return {
        "id": f"{kind}-{secrets.token_hex(6)}",
        "kind": kind,
        "severity": "critical",
        "summary": summary,
        "target": {"kind": "compose_service", "host": "local", "project": app, "service": service,
                   "container_name": f"{app}-{service}-1", "app_name": app},
        "evidence": evidence,
        "runbook": runbook,
        "first_seen": (at - timedelta(seconds=20)).isoformat(),
        "last_seen": at.isoformat(),
        "status": "active",
    }  # fmt: skip


def tool_result(tool: str, arguments: dict[str, Any], structured: dict[str, Any]) -> dict[str, Any]:
    return {"tool": tool, "arguments": arguments, "ok": True, "refused": False, "error": None,
            "structured": structured}  # fmt: skip


def memory_step(app: str, service: str, old: str, new: str, new_bytes: int) -> dict[str, Any]:
    """One planned `set_memory_limit` with its dry run (what the approval shows)."""
    arguments = {"app_name": app, "service": service, "memory": new.lower().replace(" mib", "m")}
    preview = {
        "app_name": app, "service": service, "dry_run": True, "ok": True, "action": "raise_memory",
        "new_limit_bytes": new_bytes,
        "containers": [{"container": f"{app}-{service}-1", "old_limit": old, "new_limit": new, "ok": True}],
        "persisted": True,
        "persist_note": "compose file: mem_limit changed; applied by the live change now and at every deploy",
        "policy": f"allowed: raise_memory of compose service {service} of project {app} on host local",
    }  # fmt: skip
    return {
        "index": 0,
        "do": 'Raise the limit (the dry run shows "memory OLD → NEW" first).',
        "tool": "set_memory_limit",
        "arguments": arguments,
        "dry_run": tool_result("set_memory_limit", {**arguments, "dry_run": True}, preview),
    }


def oom_history(app: str, opened: datetime, raised: datetime, closed: datetime) -> dict[str, Any]:
    """`context["_resources"]` as the agent stores it when an incident closes (stats_history, from
    10 min before it opened): the api idles, then climbs to its 32 MiB limit and is killed every
    ~30 s until the limit is raised to 64 MiB, then holds ~40 MiB until the incident closes."""
    start = opened - timedelta(minutes=10)
    samples = []
    for i in range(int((closed - start).total_seconds() // 10) + 1):
        at = start + timedelta(seconds=10 * i)
        if at < opened - timedelta(minutes=3):
            used, cpu = 18 * MIB + (i % 5) * MIB, 4.0 + (i % 3)
        elif at < raised:
            used, cpu = (9 + 11 * (i % 3)) * MIB, 35.0 + 10 * (i % 2)  # fills, is killed, restarts
        else:
            used, cpu = 39 * MIB + (i % 4) * MIB, 6.0 + (i % 3)
        samples.append({"at": at.isoformat(), "memory_used_bytes": used, "cpu_percent": cpu})
    container = {"container": f"{app}-api-1", "service": "api", "memory_limit_bytes": 64 * MIB,
                 "memory_limit_set": True, "cpu_limit_cpus": None, "samples": samples}  # fmt: skip
    minutes = round(len(samples) * 10 / 60, 1)
    return {"containers": [container], "notes": [], "minutes": minutes, "read_at": closed.isoformat()}


ACT_S, CLOSE_S = 20, 260  # the resolved OOM: limit raised 20 s after it opened, verified healthy 4 min later


def resolved_oom(app: str, at: datetime) -> Incident:
    """The live stack's api was OOM-killed under 32 MiB; the agent raised it to 64 MiB alone."""
    tgt, key = target(app, "api")
    summary = f"container {app}-api-1 was OOM-killed: exit 137, memory limit 32.0 MiB"
    oom = signal("oom", app, "api", summary, "oom-killed", at, exit_code=137, oom_killed=True,
                 memory_limit_bytes=32 * MIB, restart_count=6,
                 last_log_lines=[fenced("stderr: Killed")] * 3)  # fmt: skip
    loop = signal("crash_loop", app, "api",
                  f"compose service api of project {app} on host local is crash-looping: 6 exits in 10 min, "
                  "last exit code 137 (killed by SIGKILL)", "crash-loop", at,
                  exits_in_window=6, window_s=600.0, exit_codes=[137] * 6)  # fmt: skip
    step = memory_step(app, "api", "32 MiB", "64 MiB", 64 * MIB)
    incident = Incident(
        id=new_id(), fingerprint=key, target=tgt, target_key=key, kind="oom", severity="critical",
        summary=summary, runbook="oom-killed", status="resolved", signals=[oom, loop],
        context={
            "status": tool_result("service_status", {"app_name": app, "service": "api"}, {
                "app_name": app, "service": "api", "kind": "compose",
                "containers": [{"name": f"{app}-api-1", "status": "restarting", "restarts": 6, "exit_code": 137,
                                "oom_killed": True, "memory_limit_bytes": 32 * MIB,
                                "restart_policy": "unless-stopped"}]}),
            "stats": tool_result("container_stats", {"app_name": app, "service": "api"}, {
                "containers": [{"container": f"{app}-api-1", "running": True, "cpu_percent": 3.5,
                                "memory_usage_bytes": 31 * MIB, "memory_limit_bytes": 32 * MIB,
                                "memory_percent": 96.9}]}),
            "raise-plan": step["dry_run"],
            "_resources": oom_history(app, at, at + timedelta(seconds=ACT_S), at + timedelta(seconds=CLOSE_S)),
        },
        facts={"signal_kind": "oom", "exit_code": 137, "oom_killed": True, "restarts_last_hour": 6,
               "memory_limit": "32m", "proposed_memory": "64m", "proposed_memory_fits": True,
               "oom_after_raise": False, "dependants": [], "recurrences_4h": 1},
        decision=Decision(
            mode="runbook", mode_note=RUNBOOK_ONLY, runbook="oom-killed", solution="raise-memory-limit",
            solution_title="Raise the memory limit to twice the current one (live, and persisted in the compose file)",
            confidence=0.85, threshold=0.7, risk="low", route="auto",
            reasons=[
                "oom-killed/raise-memory-limit: oom_killed equals True: yes (True)",
                "oom-killed/raise-memory-limit: proposed_memory_fits equals True: yes (True)",
                "oom-killed/raise-memory-limit: oom_after_raise not_equals True: yes (False)",
                "acts alone: risk low, confidence 0.85 ≥ threshold 0.7",
                "memory: no similar past incident",
            ],
        ),
        plan=[step],
        actions=[ActionRecord(key="", tool="set_memory_limit", arguments=step["arguments"], ok=True,
                              summary="memory 32 MiB → 64 MiB on 1 container; compose file updated",
                              at=at + timedelta(seconds=ACT_S))],
        verification={"verdict": "healthy", "window_s": 240.0, "checks": {
            "running": {"samples": 48, "passed": 48, "failed": 0, "last": True},
            "no_new_signal": {"samples": 48, "passed": 48, "failed": 0, "last": True},
            "memory_below_percent": {"samples": 48, "passed": 48, "failed": 0, "last": True}}},
        outcome="resolved by raise-memory-limit in 4 min 20 s",
        opened_at=at, updated_at=at + timedelta(seconds=CLOSE_S), closed_at=at + timedelta(seconds=CLOSE_S),
    )  # fmt: skip
    incident.actions[0].key = f"{incident.id}:act:0"
    incident.events = events(at, [
        (0, "detect_incident", f"opened: {summary} (runbook oom-killed; {RUNBOOK_ONLY})"),
        (0.1, "monitor", f"signal attached: crash_loop on {key}"),
        (10, "gather_context", "log line showing out_of_memory: exit code 137 (SIGKILL), OOMKilled=true"),
        (17, "diagnose", "raise-memory-limit → auto (oom-killed/raise-memory-limit: oom_killed equals True: yes (True))"),
        (18, "plan_solution", f"plan: set_memory_limit(app_name={app}, service=api, memory=64m)"),
        (ACT_S, "execute_action", "set_memory_limit done"),
        (CLOSE_S - 1, "verify_fix", "healthy after 240 s: running 48/48, no_new_signal 48/48, memory_below_percent 48/48"),
        (CLOSE_S, "learn", "resolved by raise-memory-limit in 4 min 20 s"),
    ])  # fmt: skip
    return incident


def escalated_with_injection(app: str, at: datetime) -> Incident:
    """The live stack's db crash-loops printing its environment and a hostile log line; a data
    service is never restarted alone, so the agent hands it to a human."""
    tgt, key = target(app, "db")
    lines = [
        fenced(f"stderr: POSTGRES_PASSWORD={SECRET_VALUE} POSTGRES_USER=shop"),
        fenced(f"stdout: {INJECTED_SCRIPT}"),
        fenced(f"stdout: {INJECTED_IMG}"),
        fenced("stderr: FATAL: could not open file /data/postgresql.conf: Permission denied"),
    ]
    summary = f"compose service db of project {app} on host local is crash-looping: 5 exits in 10 min, last exit code 1"
    loop = signal("crash_loop", app, "db", summary, "crash-loop", at, exits_in_window=5, window_s=600.0,
                  exit_codes=[1] * 5, last_log_lines=lines)  # fmt: skip
    reasons = [
        "crash-loop/restart-service: exit_code not_equals 137: yes (1)",
        "crash-loop/restart-service: data_service equals False: no (True)",
        "escalate: db is a data service: a restart loop there needs a human (its files, its config)",
    ]
    return Incident(
        id=new_id(), fingerprint=key, target=tgt, target_key=key, kind="crash_loop", severity="critical",
        summary=summary, runbook="crash-loop", status="escalated", signals=[loop],
        context={"logs": tool_result("read_logs", {"app_name": app, "service": "db"}, {
            "container": f"{app}-db-1", "mode": "tail", "lines_read": 4,
            "text": "\n".join(lines)})},
        facts={"signal_kind": "crash_loop", "exit_code": 1, "data_service": True, "restarts_last_hour": 5,
               "dependants": ["api"], "log_patterns": ["permission_denied"]},
        decision=Decision(mode="runbook", mode_note=RUNBOOK_ONLY, runbook="crash-loop", confidence=0.4,
                          threshold=0.7, risk="medium", route="escalate", reasons=reasons,
                          escalation=["db is a data service: a restart loop there needs a human"]),
        outcome="needs a human: db is a data service: a restart loop there needs a human",
        opened_at=at, updated_at=at + timedelta(seconds=3), closed_at=at + timedelta(seconds=3),
        affected=[f"service:local/{app}/api"],
        events=events(at, [
            (0, "detect_incident", f"opened: {summary} (runbook crash-loop; {RUNBOOK_ONLY})"),
            (1, "gather_context", f"last lines it wrote (from the crash_loop signal): {lines[1]} | {lines[2]}"),
            (2, "diagnose", "no safe fix → escalate (db is a data service)"),
            (3, "escalate", "needs a human: db is a data service: a restart loop there needs a human"),
        ]),
    )  # fmt: skip


def awaiting_memory(app: str, service: str, at: datetime, old: str, new: str) -> Incident:
    """Memory pressure on a service others depend on: the raise needs a human's yes."""
    tgt, key = target(app, service)
    summary = f"container {app}-{service}-1 uses 94% of its {old} memory limit for 10 min"
    new_bytes = int(new.split()[0]) * MIB
    step = memory_step(app, service, old, new, new_bytes)
    incident = Incident(
        id=new_id(), fingerprint=key, target=tgt, target_key=key, kind="memory_pressure", severity="warning",
        summary=summary, runbook="memory-pressure", status="awaiting_approval",
        signals=[signal("memory_pressure", app, service, summary, "memory-pressure", at, memory_percent=94.2)],
        facts={"memory_percent": 94.2, "proposed_memory_fits": True, "dependants": ["web", "worker"]},
        decision=Decision(mode="runbook", mode_note=RUNBOOK_ONLY, runbook="memory-pressure",
                          solution="raise-memory-limit", solution_title="Raise the memory limit",
                          confidence=0.8, threshold=0.7, risk="medium", route="approval",
                          reasons=["memory-pressure/raise-memory-limit: memory_percent above 90: yes (94.2)",
                                   "asks first: risk medium (2 services depend on it)"]),
        plan=[step], opened_at=at, updated_at=at + timedelta(seconds=2),
    )  # fmt: skip
    incident.events = events(at, [
        (0, "detect_incident", f"opened: {summary} (runbook memory-pressure)"),
        (1, "diagnose", "raise-memory-limit → approval (risk medium)"),
        (2, "escalate", f"approval asked: {describe_change(step)}"),
    ])  # fmt: skip
    return incident


def older_incident(app: str, service: str, at: datetime, kind: str, resolved: bool) -> Incident:
    """A closed incident from earlier days: enough for the timeline and the per-day chart."""
    tgt, key = target(app, service)
    summary = {
        "exited": f"container {app}-{service}-1 exited with code 1 after a deploy",
        "unhealthy": f"container {app}-{service}-1 fails its health check 5 times in a row",
        "restart_storm": f"service {service} of {app} restarted 9 times in 30 min",
    }[kind]
    outcome = "resolved by restart-service in 34 s" if resolved else "needs a human: no safe fix"
    return Incident(
        id=new_id(), fingerprint=key, target=tgt, target_key=key, kind=kind, severity="warning",
        summary=summary, status="resolved" if resolved else "escalated",
        decision=Decision(mode="runbook", mode_note=RUNBOOK_ONLY, solution="restart-service" if resolved else None,
                          confidence=0.75 if resolved else 0.3, threshold=0.7, risk="low",
                          route="auto" if resolved else "escalate",
                          reasons=[f"{kind}: restart-service fits" if resolved else f"{kind}: no runbook fix fits"]),
        outcome=outcome, opened_at=at, updated_at=at + timedelta(seconds=34), closed_at=at + timedelta(seconds=34),
        events=events(at, [(0, "detect_incident", f"opened: {summary}"), (34, "learn", outcome)]),
    )  # fmt: skip


def approval_for(incident: Incident, created: datetime, expiry_s: float = 900) -> ApprovalRequest:
    """The request the agent's escalate node asks for this incident's plan (same id and hash)."""
    digest = plan_hash(incident.plan)
    return ApprovalRequest(
        id=approval_id(incident.id, digest),
        incident_id=incident.id,
        title=f"{incident.decision.solution if incident.decision else 'fix'} on {incident.target_key}",
        changes=[describe_change(step) for step in incident.plan],
        blast_radius=list(incident.facts.get("dependants") or []),
        reasons=list(incident.decision.reasons if incident.decision else []),
        plan_hash=digest,
        created_at=created,
        expires_at=expiry(created, expiry_s),
    )


async def save_incidents(state_dir: Path, *incidents: Incident) -> None:
    """Write incidents through a connection of their own (as another process would)."""
    db = AgentSettings(state_dir=state_dir).open_database()
    try:
        store = IncidentStore(db)
        for incident in incidents:
            await store.save(incident)
    finally:
        db.close()


async def seed_state(state_dir: Path, live_app: str, moment: datetime | None = None) -> Seeded:
    """Fill `state_dir` (created if missing) with the incidents and approvals described above;
    `live_app` is the deployed stack's app name (its api and db carry the first two incidents)."""
    await anyio.Path(state_dir).mkdir(parents=True, exist_ok=True)
    moment = moment or datetime.now(UTC)
    resolved = resolved_oom(live_app, moment - timedelta(hours=2))
    escalated = escalated_with_injection(live_app, moment - timedelta(days=1, hours=1))
    awaiting = awaiting_memory("shop-cache", "redis", moment - timedelta(minutes=3), "256 MiB", "512 MiB")
    other = awaiting_memory("shop-search", "index", moment - timedelta(minutes=2), "512 MiB", "1024 MiB")
    older = [
        older_incident("shop-web", "web", moment - timedelta(days=2, hours=3), "exited", True),
        older_incident("shop-web", "web", moment - timedelta(days=3, hours=5), "unhealthy", True),
        older_incident("shop-worker", "worker", moment - timedelta(days=3, hours=9), "restart_storm", False),
        older_incident("shop-cache", "redis", moment - timedelta(days=5, hours=2), "unhealthy", True),
        older_incident("shop-web", "web", moment - timedelta(days=6, hours=1), "exited", True),
    ]
    await save_incidents(state_dir, resolved, escalated, awaiting, other, *older)
    db = AgentSettings(state_dir=state_dir).open_database()
    try:
        book = ApprovalBook(db)
        request = await book.ask(approval_for(awaiting, moment - timedelta(minutes=3)))
        other_request = await book.ask(approval_for(other, moment - timedelta(minutes=2)))
    finally:
        db.close()
    return Seeded(
        resolved=resolved.id,
        escalated=escalated.id,
        awaiting=awaiting.id,
        approval=request.id,
        awaiting_other=other.id,
        approval_other=other_request.id,
        older=[i.id for i in older],
    )


def live_incident(app: str, moment: datetime | None = None) -> Incident:
    """A fresh open incident (the live-update test writes it while a page is open)."""
    at = moment or datetime.now(UTC)
    tgt, key = target(app, "api")
    summary = f"container {app}-api-1 exited with code 2"
    return Incident(
        id=new_id(), fingerprint=key, target=tgt, target_key=key, kind="exited", severity="warning",
        summary=summary, status="open", opened_at=at, updated_at=at,
        events=events(at, [(0, "detect_incident", f"opened: {summary}")]),
    )  # fmt: skip
