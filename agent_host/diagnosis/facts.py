"""The deterministic pre-diagnosis: facts computed by code from the signal, the context the runbook
gathered, the compose graph and this target's history. Evidence that settles a case is code, not a
guess: OOMKilled/exit 137 → out of memory; exit 127 → the command cannot run; "No space left on
device" in the logs → disk; unhealthy while its port answers the server's own probe → the health
check's configuration (`process_alive`). The facts' names and meanings are the catalogue in
`mcp_server.runbooks.facts`; a fact this module cannot establish stays absent (unknown).

Text from containers (logs, probe output) is only ever matched against fixed patterns here; it is
never followed as an instruction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mcp_server.runbooks import FACTS

from .metric_facts import metric_facts
from .volumes import volume_facts

if TYPE_CHECKING:
    from agent_host.incidents.model import Incident

MIB = 1024 * 1024
# name -> pattern over log text (lower-cased); the names are the documented `log_patterns` values
LOG_PATTERNS: dict[str, re.Pattern[str]] = {
    "no_space_left": re.compile(r"no space left on device|disk full|enospc"),
    "missing_env": re.compile(
        r"(environment variable|env var|envvar)\S* .{0,40}(not set|missing|required|undefined)"
        r"|missing (required )?(environment|env)|keyerror: '[a-z0-9_]+'"
        # envconfig (Go): "required key DATABASE_URL missing value"; "config key X is missing"
        r"|(required|config(uration)?) (key|setting|variable) [a-z0-9_.]+ (is )?(missing|not set|unset)"
    ),
    "config_error": re.compile(
        r"invalid config|configuration error|config(uration)? file .{0,30}(not found|invalid)"
    ),
    "connection_refused": re.compile(r"connection refused|econnrefused|could not connect to"),
    "out_of_memory": re.compile(
        # not "oomkilled=false": the server's log digest states the exit's OOMKilled flag either way
        r"out of memory|cannot allocate memory|memoryerror|oomkilled(?!=false)|heap out of memory"
    ),
    "permission_denied": re.compile(r"permission denied|eacces|operation not permitted"),
    "address_in_use": re.compile(r"address already in use|eaddrinuse"),
    "stuck_loop": re.compile(
        r"(retrying|retry) .{0,40}(again|attempt \d{3,})|infinite loop|maximum recursion"
    ),
}
# a probe whose own command is missing or cannot execute says nothing about the service
PROBE_CANNOT_RUN = re.compile(
    r"executable file not found|command not found|: not found|no such file or directory|permission denied|exec format error"
)
# a neighbour starves a service of CPU when it burns at least this share of one core (as docker
# stats counts: 100 = one core) while that service, failing its probe, runs at most
# CPU_STARVED_MAX_PERCENT itself: a process that gets no CPU answers nothing and uses none
CPU_HOG_PERCENT = 25.0
CPU_STARVED_MAX_PERCENT = 5.0
WORKER_WORDS = ("worker", "celery", "rq", "sidekiq", "consumer", "queue", "beat", "scheduler", "cron")


def _result(context: Mapping[str, Any], tool: str) -> dict[str, Any] | None:
    """The structured answer of the first successful context call to `tool`."""
    for entry in context.values():
        if entry.get("tool") == tool and entry.get("ok") and isinstance(entry.get("structured"), dict):
            return dict(entry["structured"])
    return None


def _stats_rows(context: Mapping[str, Any], *, whole_app: bool) -> list[dict[str, Any]]:
    """The rows of the first successful container_stats call of the target itself (a service or a
    container named) or, with `whole_app`, of its whole app (app_name alone)."""
    for entry in context.values():
        if entry.get("tool") != "container_stats" or not entry.get("ok"):
            continue
        arguments = entry.get("arguments") or {}
        if whole_app == (not arguments.get("service") and not arguments.get("container")):
            return list((entry.get("structured") or {}).get("containers") or [])
    return []


def _text(context: Mapping[str, Any], tool: str) -> str:
    return "\n".join(
        str(e.get("text") or "") for e in context.values() if e.get("tool") == tool and e.get("ok")
    )


def _containers(context: Mapping[str, Any], service: str | None) -> list[dict[str, Any]]:
    status = _result(context, "service_status")
    if status:
        return list(status.get("containers") or [])
    health = _result(context, "compose_health")
    for report in (health or {}).get("services", []):
        if report.get("service") == service:
            return list(report.get("containers") or [])
    return []


def memory_size(num_bytes: int) -> str:
    """A Docker memory size that set_memory_limit accepts, exact: 536870912 → 512m, and a limit
    that is not a whole MiB in bytes (33554433 → 33554433b), so an undo puts back exactly the old
    limit and twice the limit never rounds above the 2× the policy allows."""
    return f"{num_bytes // MIB}m" if num_bytes % MIB == 0 else f"{num_bytes}b"


def compute_facts(
    *,
    signals: Sequence[Mapping[str, Any]],
    target: Mapping[str, Any],
    context: Mapping[str, Any],
    graph: Mapping[str, Any] | None,
    health: Mapping[str, Any] | None,
    history: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Every fact that can be established; see the module docstring."""
    facts: dict[str, Any] = {}
    service = target.get("service")
    if signals:
        first = signals[0]
        facts["signal_kind"] = first.get("kind")
        facts["signal_severity"] = first.get("severity")
    evidence: dict[str, Any] = {}
    for signal in signals:
        evidence.update(signal.get("evidence") or {})
    from_signal = evidence_facts(signals)
    _container_facts(facts, _containers(context, service), from_signal)
    _memory_facts(facts, context, evidence, history)
    _log_facts(facts, context, from_signal, target)
    _disk_facts(facts, context)
    _neighbour_facts(facts, service, _stats_rows(context, whole_app=True))
    _graph_facts(facts, service, graph, health or _result(context, "compose_health"))
    for key, value in volume_facts(signals, context, graph).items():
        facts.setdefault(key, value)  # a filling volume's name, size, growth, users and blast radius
    for key, value in metric_facts(signals, target, context, graph, now).items():
        facts.setdefault(key, value)  # a metric rule's numbers; the volumes its service mounts
    _deploy_facts(facts, context, now)
    facts["failed_fixes"] = history.get("failed_fixes", 0)
    facts["recurrences_4h"] = history.get("recurrences", 0)
    unknown = set(facts) - set(FACTS)
    if unknown:  # a programming error: the catalogue is the contract with the runbooks
        raise RuntimeError(f"facts outside the catalogue: {sorted(unknown)}")
    return {k: v for k, v in facts.items() if v is not None}


def facts_of(incident: Incident, history: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """`compute_facts` over what the incident holds: its signals, target and gathered context (with
    the compose graph and stack health the gathering step keeps under `_graph` / `_health`)."""
    graph = (incident.context.get("_graph") or {}).get("structured")
    health = (incident.context.get("_health") or {}).get("structured")
    return compute_facts(
        signals=incident.signals, target=incident.target, context=incident.context,
        graph=graph, health=health, history=history, now=now,
    )  # fmt: skip


def evidence_facts(signals: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the detectors' evidence settles, per signal kind (a probe's exit code is not the
    container's, so each kind says which of its numbers mean what)."""
    found: dict[str, Any] = {}
    for signal in signals:
        kind, ev = signal.get("kind"), signal.get("evidence") or {}
        if kind in ("oom", "exited"):
            found.setdefault("exit_code", ev.get("exit_code"))
            found.setdefault("oom_killed", ev.get("oom_killed"))
        elif kind == "crash_loop" and ev.get("exit_codes"):
            found.setdefault("exit_code", list(ev["exit_codes"])[-1])
            found.setdefault("restarts_last_hour", ev.get("exits_in_window"))
        elif kind == "hung":
            found.setdefault("silent_for_s", ev.get("silence_s"))
            found["opted_in"] = True  # the hung detector only watches workers and opted-in services
        elif kind == "disk_pressure":
            found.setdefault("disk_used_percent", ev.get("used_percent"))
            reclaim = ev.get("reclaimable_bytes")
            if isinstance(reclaim, dict):
                found.setdefault(
                    "prune_reclaimable_bytes",
                    sum(int(reclaim.get(k) or 0) for k in ("images", "build_cache")),
                )
            found["filling_is_data_volume"] = (signal.get("target") or {}).get("kind") == "volume"
        elif kind == "memory_pressure":
            found.setdefault("memory_percent", ev.get("memory_percent"))
        elif kind == "cpu_saturation":
            found.setdefault("cpu_percent", ev.get("cpu_share_percent"))
        elif kind == "domain_down" and isinstance(ev.get("http"), dict):
            found.setdefault("domain_status", ev["http"].get("status"))
        elif kind == "unhealthy" and (alive := own_probe_answered(ev.get("own_probe"))) is not None:
            found.setdefault("process_alive", alive)
        lines = ev.get("last_log_lines")
        if lines:
            found["last_lines"] = "\n".join(lines) if isinstance(lines, list) else str(lines)
    return {k: v for k, v in found.items() if v is not None}


def own_probe_answered(own: Any) -> bool | None:
    """What the unhealthy detector's own probe of the container's port says of the process: True
    when it answered (an HTTP status below 500, a non-HTTP reply, a TCP connect), False when it
    was probed and gave no answer, None when not probed (no port, probes off) or when it answered
    5xx: the process runs but reports a failure itself, so its health check may well be right."""
    if not isinstance(own, dict) or not isinstance(own.get("answered"), bool):
        return None
    if not own["answered"]:
        return False
    status = own.get("status_code")
    return None if isinstance(status, int) and status >= 500 else True


def _container_facts(
    facts: dict[str, Any], containers: list[dict[str, Any]], evidence: Mapping[str, Any]
) -> None:
    exit_code = evidence.get("exit_code")
    oom = evidence.get("oom_killed")
    if containers:
        running = [c for c in containers if c.get("status") == "running"]
        facts["running"] = bool(running)
        newest = containers[0]
        if exit_code is None:
            exit_code = newest.get("exit_code") if not running else None
        oom = oom or any(c.get("oom_killed") for c in containers)
        facts["restart_count"] = max(int(c.get("restarts") or 0) for c in containers)
        healths = [c.get("health") for c in (running or containers)]
        facts["health"] = next((h for h in healths if h), "none")
        probes = " ".join(str(c.get("last_probe") or "") for c in containers).lower()
        if facts["health"] in ("unhealthy", "starting") and probes.strip():
            facts["healthcheck_cannot_run"] = PROBE_CANNOT_RUN.search(probes) is not None
    if exit_code is not None:
        facts["exit_code"] = int(exit_code)
    if oom is not None or exit_code is not None:
        facts["oom_killed"] = bool(oom)
    for key in (
        "restarts_last_hour", "silent_for_s", "disk_used_percent", "cpu_percent", "memory_percent",
        "prune_reclaimable_bytes", "domain_status", "filling_is_data_volume",
    ):  # fmt: skip
        if evidence.get(key) is not None:
            facts[key] = evidence[key]
    # "alive although unhealthy": not claimed once the context shows it healthy or restarting
    if evidence.get("process_alive") is not None and facts.get("health", "unhealthy") == "unhealthy":
        facts["process_alive"] = evidence["process_alive"]


def _memory_facts(
    facts: dict[str, Any], context: Mapping[str, Any], evidence: Mapping[str, Any], history: Mapping[str, Any]
) -> None:
    rows = _stats_rows(context, whole_app=False)
    status = _containers(context, None)
    limit = next((c.get("memory_limit_bytes") for c in status if c.get("memory_limit_bytes")), None)
    if not limit and evidence.get(
        "memory_limit_set", True
    ):  # without a limit the figure is the host's memory
        limit = evidence.get("memory_limit_bytes")
    if rows:
        usage = max(int(r.get("memory_usage_bytes") or 0) for r in rows)
        facts["memory_usage_bytes"] = usage
        facts["cpu_percent"] = max(float(r.get("cpu_percent") or 0) for r in rows)
        if limit:
            facts["memory_percent"] = round(100.0 * usage / int(limit), 1)
    if limit:
        facts["memory_limit_bytes"] = int(limit)
        facts["memory_limit"] = memory_size(int(limit))
        facts["proposed_memory"] = memory_size(2 * int(limit))
    plan = next(
        (
            e
            for e in context.values()
            if e.get("tool") == "set_memory_limit" and (e.get("arguments") or {}).get("dry_run")
        ),
        None,
    )
    if plan is not None:
        structured = plan.get("structured") or {}
        facts["proposed_memory_fits"] = bool(
            plan.get("ok") and not plan.get("refused") and structured.get("ok", True)
        )
    facts["memory_raised_before"] = bool(history.get("memory_raised_before"))
    if history.get("memory_raised_before") and facts.get("oom_killed"):
        facts["oom_after_raise"] = True
    elif facts.get("oom_killed") is not None:
        facts["oom_after_raise"] = False


def _log_facts(
    facts: dict[str, Any], context: Mapping[str, Any], evidence: Mapping[str, Any], target: Mapping[str, Any]
) -> None:
    text = (_text(context, "read_logs") + "\n" + str(evidence.get("last_lines") or "")).lower()
    if text.strip():
        facts["log_patterns"] = sorted(name for name, pattern in LOG_PATTERNS.items() if pattern.search(text))
    words = " ".join(str(target.get(k) or "") for k in ("service", "container")).lower()
    facts["worker_like"] = bool(evidence.get("opted_in")) or any(
        w in re.split(r"[-_.\s]", words) for w in WORKER_WORDS
    )


def log_evidence(context: Mapping[str, Any], signals: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """For each known failure pattern in the logs, the first line that shows it (≤ 200 characters):
    the line a human must see when the agent escalates (in a 200,000-line flood, the one causal
    line). Only for notes in the incident's timeline; the text stays untrusted data."""
    digests = [
        str((e.get("structured") or {}).get("text") or e.get("text") or "")
        for e in context.values()
        if e.get("tool") == "read_logs" and e.get("ok")
    ]  # the structured text keeps its line breaks (an entry's `text` is that answer as JSON)
    text = "\n".join([*digests, str(evidence_facts(signals).get("last_lines") or "")])
    found: dict[str, str] = {}
    for line in text.splitlines():
        lowered = line.lower()
        for name, pattern in LOG_PATTERNS.items():
            if name not in found and pattern.search(lowered):
                found[name] = line.strip()[:200]
    return found


def _neighbour_facts(facts: dict[str, Any], service: str | None, rows: list[dict[str, Any]]) -> None:
    """`cpu_starved_by`: from the stats of the whole app, the other services that burn at least
    CPU_HOG_PERCENT of a core while this one, failing its probe, barely runs (busiest first).
    Unknown without those stats or without this service's own row in them."""
    mine = [float(r.get("cpu_percent") or 0) for r in rows if r.get("service") == service]
    if not service or not mine:
        return
    if max(mine) > CPU_STARVED_MAX_PERCENT or facts.get("process_alive") is True:
        facts["cpu_starved_by"] = []  # it runs (or answers): whatever it lacks, it is not CPU
        return
    busiest: dict[str, float] = {}
    for row in rows:
        name, cpu = row.get("service"), float(row.get("cpu_percent") or 0)
        if name and name != service and row.get("running", True) and cpu >= CPU_HOG_PERCENT:
            busiest[name] = max(cpu, busiest.get(name, 0.0))
    facts["cpu_starved_by"] = sorted(busiest, key=lambda name: (-busiest[name], name))


def _disk_facts(facts: dict[str, Any], context: Mapping[str, Any]) -> None:
    usage = _result(context, "disk_usage")
    if usage is None:
        return
    kinds = {k.get("kind"): k for k in usage.get("kinds") or []}
    if "images" in kinds or "build_cache" in kinds:
        facts["prune_reclaimable_bytes"] = sum(
            int((kinds.get(k) or {}).get("reclaimable_bytes") or 0) for k in ("images", "build_cache")
        )
    filesystem = usage.get("filesystem") or {}
    if isinstance(filesystem.get("used_percent"), int | float):
        facts.setdefault("disk_used_percent", filesystem["used_percent"])


def _graph_facts(
    facts: dict[str, Any],
    service: str | None,
    graph: Mapping[str, Any] | None,
    health: Mapping[str, Any] | None,
) -> None:
    down: set[str] = set()
    if health:
        reports = health.get("services") or []
        down = {
            r["service"] for r in reports if r.get("verdict") in ("down", "degraded") and r.get("service")
        }
        facts["stack_all_stopped"] = bool(reports) and all(r.get("verdict") == "down" for r in reports)
        if facts.get("running") is None and service:
            mine = [r for r in reports if r.get("service") == service]
            if mine:
                facts["running"] = mine[0].get("verdict") != "down"
    node = None
    if graph:
        node = next((n for n in graph.get("services") or [] if n.get("name") == service), None)
    if node is not None:
        upstream = set(node.get("upstream") or []) | set(node.get("depends_on") or [])
        facts["dependants"] = list(node.get("blast_radius") or [])
        facts["data_service"] = node.get("kind") in (
            "database",
            "cache",
            "queue",
            "search",
            "vector-db",
            "storage",
        )
        if health:
            order = list(graph.get("start_order") or []) if graph else []
            rank = {name: index for index, name in enumerate(order)}
            facts["upstream_down"] = sorted(upstream & down, key=lambda n: (rank.get(n, len(rank)), n))
    elif health and not (down - {service}):
        facts["upstream_down"] = []  # nothing else in the stack is down, so no upstream is


def _deploy_facts(facts: dict[str, Any], context: Mapping[str, Any], now: datetime) -> None:
    history = _result(context, "deployment_history")
    rows = (history or {}).get("deployments") or []
    if not rows:
        return
    newest = rows[0]
    facts["last_deploy_failed"] = newest.get("status") == "error"
    facts["rollback_available"] = bool((history or {}).get("snapshots")) or any(
        r.get("status") == "done" for r in rows[1:]
    )
    finished = newest.get("finished_at") or newest.get("created_at")
    if isinstance(finished, str):
        try:
            at = datetime.fromisoformat(finished.replace("Z", "+00:00"))
        except ValueError:
            return
        minutes = (now - at).total_seconds() / 60
        facts["minutes_since_deploy"] = round(minutes, 1)
        facts["crashed_after_deploy"] = minutes <= 15
