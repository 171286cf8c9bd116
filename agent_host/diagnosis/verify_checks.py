"""Verification checks, each a read-only look at the target through the server's tools, answering
True (holds), False (fails) or None (cannot tell this time). `verify_fix` samples them over the
runbook's window; the names are the runbook schema's `Check.check` values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from agent_host.loop.ports import ToolCaller
from mcp_server.runbooks import Check

from .volumes import volume_below_percent

# The engine records a kill once every process of the container has exited, which on a loaded host
# comes a little after the kernel's kill: one recorded this soon after the fix can have begun
# before it. A fix that did not work still shows: the next start is killed later, or `running` fails.
RECORD_LAG = timedelta(seconds=1)

CheckFn = Callable[[ToolCaller, Check, Mapping[str, Any], "VerifyMemo"], Awaitable[bool | None]]


class VerifyMemo:
    """What a check remembers between samples (the restart count at the start, when the fix ran),
    and the incident's facts (e.g. which volume fills)."""

    def __init__(self, acted_at: datetime, facts: Mapping[str, Any] | None = None) -> None:
        self.acted_at = acted_at
        self.first_restarts: int | None = None
        self.facts: Mapping[str, Any] = facts or {}


async def _structured(link: ToolCaller, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
    answer = await link.call_tool(tool, arguments)
    return answer.structured if answer.ok and isinstance(answer.structured, dict) else None


def _service_args(target: Mapping[str, Any]) -> dict[str, Any]:
    return {"app_name": target.get("app_name"), "service": target.get("service")}


async def _containers(link: ToolCaller, target: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    if not target.get("app_name") or not target.get("service"):
        return None
    status = await _structured(link, "service_status", _service_args(target))
    return None if status is None else list(status.get("containers") or [])


async def running(link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo) -> bool | None:
    containers = await _containers(link, target)
    return None if containers is None else any(c.get("status") == "running" for c in containers)


async def healthy(link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo) -> bool | None:
    containers = await _containers(link, target)
    if containers is None:
        return None
    states = [c.get("health") for c in containers if c.get("status") == "running"]
    if not states:
        return False
    if any(s == "unhealthy" for s in states):
        return False
    return None if any(s == "starting" for s in states) else True


async def restarts_stable(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    containers = await _containers(link, target)
    if not containers:
        return None
    count = max(int(c.get("restarts") or 0) for c in containers)
    if memo.first_restarts is None:
        memo.first_restarts = count
    return count <= memo.first_restarts


async def no_new_signal(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    """False once a signal of `kinds` on the target happened after the fix: by the engine's record
    of it (`occurred_at`, e.g. an OOM kill's exit) where the detector gives one, else by when it was
    last observed (a refresh of an old kill is no new kill; a polled condition still seen is)."""
    result = await _structured(
        link, "active_signals", {"app_name": target.get("app_name")} if target.get("app_name") else {}
    )
    if result is None:
        return None
    for signal in result.get("signals") or []:
        about = signal.get("target") or {}
        if signal.get("kind") not in check.kinds or about.get("service") != target.get("service"):
            continue
        if signal.get("occurred_at"):
            if _when(signal["occurred_at"]) > memo.acted_at + RECORD_LAG:
                return False
        elif _when(signal.get("last_seen")) > memo.acted_at:
            return False
    return True


def _when(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


async def signal_cleared(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    """No signal of `kinds` is active on the target (for a metric rule: the incident's rule, fact
    `metric_rule`): the metric is back on the right side of its threshold. Unlike no_new_signal a
    breach read during the window is not decisive (a queue drains over minutes); the last look
    decides. None while the signal is still active but not read again since the fix."""
    result = await _structured(
        link, "active_signals", {"app_name": target.get("app_name")} if target.get("app_name") else {}
    )
    if result is None or not result.get("detectors_running", True):
        return None
    rule = memo.facts.get("metric_rule")
    for signal in result.get("signals") or []:
        about = signal.get("target") or {}
        if signal.get("kind") not in check.kinds or about.get("service") != target.get("service"):
            continue
        other_rule = (signal.get("evidence") or {}).get("rule") != rule
        if signal.get("kind") == "metric_rule" and rule and other_rule:
            continue  # another rule of the same service is another incident's business
        return False if _when(signal.get("last_seen")) > memo.acted_at else None
    return True


async def memory_below_percent(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    stats = await _structured(link, "container_stats", _service_args(target))
    rows = [r for r in (stats or {}).get("containers") or [] if r.get("running")]
    if not rows:
        return None
    return max(float(r.get("memory_percent") or 0) for r in rows) < float(check.percent or 100)


async def stack_healthy(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    if not target.get("app_name"):
        return None
    health = await _structured(link, "compose_health", {"app_name": target.get("app_name")})
    return None if health is None else health.get("verdict") == "ok"


async def domain_answers(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    if not target.get("domain"):
        return None
    result = await _structured(link, "check_domain", {"host": target["domain"]})
    return None if result is None else result.get("verdict") == "up"


async def disk_below_percent(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    usage = await _structured(link, "disk_usage", {})
    filesystem = (usage or {}).get("filesystem") or {}
    used = filesystem.get("used_percent")
    return None if not isinstance(used, int | float) else float(used) < float(check.percent or 100)


async def logs_active(
    link: ToolCaller, check: Check, target: Mapping[str, Any], memo: VerifyMemo
) -> bool | None:
    return None  # needs the log's last timestamp from read_logs; unknown until then (never a pass)


CHECKS: dict[str, CheckFn] = {
    "running": running,
    "healthy": healthy,
    "restarts_stable": restarts_stable,
    "no_new_signal": no_new_signal,
    "memory_below_percent": memory_below_percent,
    "stack_healthy": stack_healthy,
    "domain_answers": domain_answers,
    "disk_below_percent": disk_below_percent,
    "logs_active": logs_active,
    "volume_below_percent": volume_below_percent,
    "signal_cleared": signal_cleared,
}
