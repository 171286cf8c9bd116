"""An incident as incident memory keeps it: one text to embed and a few flat fields to filter on.

The text has what a later, similar incident needs to find it and learn from it:

    Incident oom on shop/api (critical): api oom
    Signals: oom: api oom
    Evidence: exit_code=137, oom_killed=true, log_patterns=out_of_memory, memory_limit=64m
    Logs: java.lang.OutOfMemoryError: Java heap space
    Root cause: the heap outgrew the 64m limit          (the model's, else the solution's title)
    Actions: set_memory_limit(service=api, memory=128m) ok
    Outcome: worked: resolved by raise-memory in 42 s

Logs and summaries come from containers: untrusted text. It is data here (embedded and shown as
quoted evidence, never followed), bounded to DOCUMENT_MAX_CHARS, and passed through the server's
redaction first, so no secret a container printed is ever embedded or stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from agent_host.diagnosis.facts import log_evidence
from agent_host.incidents.model import Incident
from mcp_server.redaction import redact_text

DOCUMENT_MAX_CHARS = 2000
SUMMARY_CHARS = 200

OutcomeKind = Literal["worked", "failed", "escalated", "open"]

# facts that tell one failure from another, in the order they are written
EVIDENCE_FACTS = (
    "exit_code", "oom_killed", "log_patterns", "health", "running", "restart_count",
    "restarts_last_hour", "memory_limit", "memory_percent", "oom_after_raise", "cpu_percent",
    "cpu_starved_by", "upstream_down", "process_alive", "healthcheck_cannot_run", "silent_for_s",
    "disk_used_percent", "filling_is_data_volume", "domain_status", "crashed_after_deploy",
    "last_deploy_failed", "worker_like", "data_service",
)  # fmt: skip


# plain words for signal kinds and exit codes, so "killed by out of memory, exit 137" finds an
# `oom` incident whose own text only says `exit_code=137, oom_killed=true`
KIND_WORDS = {
    "oom": "out of memory, OOM killed",
    "exited": "container exited, stopped",
    "crash_loop": "crash loop, keeps restarting",
    "unhealthy": "health check failing",
    "hung": "hung, stopped making progress, no output",
    "memory_pressure": "memory usage near its limit",
    "cpu_saturation": "CPU saturated, slow",
    "disk_pressure": "disk filling up, no space left",
    "domain_down": "domain unreachable, HTTP down",
}
EXIT_CODE_WORDS = {
    137: "killed (SIGKILL, often out of memory)",
    143: "terminated (SIGTERM)",
    139: "segmentation fault",
    127: "command not found",
    126: "command cannot execute",
    1: "application error",
}


def outcome_kind(incident: Incident) -> OutcomeKind:
    """worked: resolved (by its fix, or by itself once a related incident was fixed);
    failed: a fix was applied and the incident did not resolve (verification failed, rolled back);
    escalated: closed without applying a fix; open: not closed yet."""
    if incident.status == "resolved":
        return "worked"
    if not incident.closed:
        return "open"
    return "failed" if fix_applied(incident) else "escalated"


def fix_applied(incident: Incident) -> bool:
    """True when one of the plan's actions really ran (not a dry run, not refused by policy)."""
    return any(":act:" in a.key and not a.dry_run and not a.refused for a in incident.actions)


def credited_solution(incident: Incident) -> str:
    """The solution this incident's outcome speaks for: the decided one when it was applied, or when
    the incident was resolved through `learn` (a human step the approver carried out counts); ""
    when nothing was done (no fix, or it recovered by itself once a related incident was fixed)."""
    solution = incident.decision.solution if incident.decision else None
    if not solution:
        return ""
    if incident.status == "resolved":
        return solution if any(e.step == "learn" for e in incident.events) else ""
    return solution if fix_applied(incident) else ""


def recover_seconds(incident: Incident) -> float:
    """Seconds from opening to resolution; -1 when it did not resolve."""
    if incident.status != "resolved" or incident.closed_at is None:
        return -1.0
    return max(0.0, (incident.closed_at - incident.opened_at).total_seconds())


def root_cause(incident: Incident) -> str:
    """The model's root cause when the model decided, else the chosen solution's title."""
    decision = incident.decision
    if decision is None:
        return "not diagnosed"
    if decision.mode == "model":
        for reason in decision.reasons:
            if reason.startswith("model ") and "root cause:" in reason:
                return reason.split("root cause:", 1)[1].strip()
    if decision.solution_title:
        return decision.solution_title
    if decision.solution:
        return f"{decision.runbook or '?'}/{decision.solution}"
    return "no fix chosen: " + "; ".join(decision.escalation[:2] or decision.reasons[:1] or ["no reason"])


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return "+".join(str(v) for v in value) or "none"
    return str(value)


def evidence_digest(facts: Mapping[str, Any]) -> str:
    """`exit_code=137, oom_killed=true, …` for the facts that tell failures apart."""
    return ", ".join(f"{key}={_value(facts[key])}" for key in EVIDENCE_FACTS if facts.get(key) is not None)


def log_digest(incident: Incident, limit: int = 400) -> str:
    """The log lines that show a known failure pattern (else the signal's last lines), cut short."""
    lines: list[str] = []
    given = incident.facts.get("log_evidence")
    if isinstance(given, Mapping):
        lines += [str(line) for line in given.values()]
    elif isinstance(given, list | tuple):
        lines += [str(line) for line in given]
    elif isinstance(given, str) and given:
        lines.append(given)
    if not lines:
        lines += list(log_evidence(incident.context, incident.signals).values())
    if not lines:
        for signal in incident.signals:
            last = (signal.get("evidence") or {}).get("last_log_lines")
            if isinstance(last, list):
                lines += [str(line) for line in last[-3:]]
    text = " | ".join(line.strip()[:200] for line in lines if line.strip())
    return text[:limit]


def actions_digest(incident: Incident) -> str:
    """`set_memory_limit(service=api, memory=128m) ok; …` for what really ran."""
    parts = []
    for action in incident.actions:
        if action.dry_run:
            continue
        arguments = ", ".join(
            f"{k}={str(v)[:40]}" for k, v in action.arguments.items() if k not in ("app_name", "service")
        )
        verdict = "refused" if action.refused else ("ok" if action.ok else "failed")
        parts.append(f"{action.tool}({arguments[:160]}) {verdict}")
    return "; ".join(parts) or "none"


def unnamed(text: str, incident: Incident) -> str:
    """`text` without the target's container, app and service names: measured on the labelled set
    (bench/memory_eval), names pulled a query towards other failures of the same app, and taking
    them out of the embedded text lifted wordllama's recall@3 from 0.89 to 0.97. Whether a past
    incident is about the same service comes from the metadata instead (`same_service`)."""
    names = [str(incident.target.get(k) or "") for k in ("container", "app_name", "service")]
    for name in sorted({n for n in names if len(n) >= 2}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-]|\.\w)", "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]+\n", "\n", re.sub(r"[ \t]{2,}", " ", text)).strip(" :/")


def symptoms(incident: Incident) -> str:
    """What was seen, before anything was decided: the query text for similar past incidents.
    Without the target's names (see `unnamed`); the severity and the signals' own words stay."""
    summary = unnamed(incident.summary, incident)[:200]
    signals = "; ".join(
        f"{s.get('kind')}: {unnamed(str(s.get('summary') or ''), incident)[:150]}"
        for s in incident.signals[:5]
        if unnamed(str(s.get("summary") or ""), incident) != summary
    )
    lines = [f"Incident {incident.kind} ({incident.severity}): {summary}"]
    meaning = [KIND_WORDS.get(incident.kind, "")]
    exit_code = incident.facts.get("exit_code")
    if isinstance(exit_code, int) and not isinstance(exit_code, bool) and exit_code in EXIT_CODE_WORDS:
        meaning.append(f"exit {exit_code}: {EXIT_CODE_WORDS[exit_code]}")
    if incident.facts.get("oom_killed") is True and incident.kind != "oom":
        meaning.append("OOM killed")
    if any(meaning):
        lines.append("Meaning: " + "; ".join(m for m in meaning if m))
    if signals:
        lines.append(f"Signals: {signals}")
    evidence = evidence_digest(incident.facts)
    if evidence:
        lines.append(f"Evidence: {evidence}")
    logs = log_digest(incident)
    if logs:
        lines.append(f"Logs: {logs}")
    return "\n".join(lines)


def query_text(incident: Incident) -> str:
    """The redacted, bounded symptoms of an incident, to look for similar ones."""
    return unnamed(redact_text(symptoms(incident)), incident)[:DOCUMENT_MAX_CHARS]


def incident_text(incident: Incident) -> str:
    """The whole document: symptoms, root cause, actions, outcome (redacted, bounded)."""
    kind = outcome_kind(incident)
    outcome = f"Outcome: {kind}" + (f": {incident.outcome[:300]}" if incident.outcome else "")
    lines = [
        symptoms(incident),
        f"Root cause: {root_cause(incident)[:300]}",
        f"Actions: {actions_digest(incident)[:400]}",
        outcome,
    ]
    return unnamed(redact_text("\n".join(lines)), incident)[:DOCUMENT_MAX_CHARS]


def _image(incident: Incident) -> str:
    """The target's image, from the facts or the containers the context calls returned."""
    if isinstance(incident.facts.get("image"), str):
        return str(incident.facts["image"])
    service = incident.target.get("service")
    for entry in incident.context.values():
        structured = entry.get("structured") if isinstance(entry, Mapping) else None
        if not isinstance(structured, Mapping):
            continue
        candidates = [structured, *(structured.get("containers") or [])]
        for item in candidates:
            if (
                isinstance(item, Mapping)
                and isinstance(item.get("image"), str)
                and item.get("service") in (None, service)
            ):
                return str(item["image"])
    return ""


def incident_document(incident: Incident) -> tuple[str, str, dict[str, str | int | float | bool]]:
    """(id, text, metadata) of the incident for the knowledge base; metadata values are never None."""
    target = incident.target
    decision = incident.decision
    app = str(target.get("app_name") or "")
    metadata: dict[str, str | int | float | bool] = {
        "incident_id": incident.id,
        "fingerprint": incident.fingerprint,
        "target_key": incident.target_key,
        "app_name": app,
        "service": str(target.get("service") or ""),
        "kind": incident.kind,
        "runbook": str((decision.runbook if decision else None) or incident.runbook or ""),
        "solution": credited_solution(incident),
        "outcome_kind": outcome_kind(incident),
        "recover_s": recover_seconds(incident),
        "image": redact_text(_image(incident))[:200],
        "compose": app,
        "opened_at": incident.opened_at.isoformat(),
        "status": incident.status,
    }
    return incident.id, incident_text(incident), metadata
