"""Facts of a metric rule: what the number is, its threshold, how long it has been past it, and what
the service it is about mounts — so a runbook can tell a stuck queue (restart the worker) from a
slow service whose data volume fills (ask for a bigger volume) from a number no runbook can fix.

A metric_rule signal (mcp_server/detectors/checks/metric_rule.py) is about the compose service that
carries the rule; its evidence holds the rule, the value, the threshold and since when it is
breached. A filling volume is seen by another detector (disk_pressure, about the volume): when such
a signal is part of the incident, the volume facts come from it (volumes.py); when it is only
active on the server (the slow-responses runbook reads `active_signals`), it counts only for a
volume this service mounts according to its compose file.

Pure functions of the incident's signals and gathered context; nothing here calls a tool. Every
fact name is in the catalogue (mcp_server/runbooks/facts.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .volumes import (
    _compose_answer,
    _docker_name,
    _source,
    compose_services_and_volumes,
    filling_volume,
    volume_facts,
)

# evidence key of a metric_rule signal -> the fact it becomes
EVIDENCE_FACTS = {
    "rule": "metric_rule",
    "metric": "metric_name",
    "source_kind": "metric_source_kind",
    "value": "metric_value",
    "operator": "metric_operator",
    "threshold": "metric_threshold",
    "unit": "metric_unit",
}


def metric_facts(
    signals: Sequence[Mapping[str, Any]],
    target: Mapping[str, Any],
    context: Mapping[str, Any],
    graph: Mapping[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """The metric facts of the incident's first metric_rule signal, `service_volumes`, and — when a
    volume the service mounts fills but its signal is not part of the incident — that volume's
    facts, as if it were. Empty when none applies."""
    facts: dict[str, Any] = {}
    metric = next((s for s in signals if s.get("kind") == "metric_rule"), None)
    if metric is not None:
        facts.update(rule_facts(metric.get("evidence") or {}, now))
    volumes = mounted_volumes(context, target)
    if volumes is not None:
        facts["service_volumes"] = volumes
    if filling_volume(signals) is None and volumes:
        filling = filling_volume(active_disk_signals(context, volumes))
        if filling is not None:
            used = (filling.get("evidence") or {}).get("used_percent")
            facts["filling_is_data_volume"] = True
            if isinstance(used, int | float):
                facts["disk_used_percent"] = used
            facts.update(volume_facts([filling], context, graph))
    return facts


def rule_facts(evidence: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The rule's numbers from a metric_rule signal's evidence (see the contract in its detector)."""
    facts: dict[str, Any] = {}
    for key, fact in EVIDENCE_FACTS.items():
        value = evidence.get(key)
        if fact in ("metric_value", "metric_threshold"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                facts[fact] = float(value)
        elif isinstance(value, str):
            facts[fact] = value
    since = _when(evidence.get("breached_since"))
    if since is not None:
        facts["metric_breached_for_s"] = max(0.0, round((now - since).total_seconds(), 1))
    return facts


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def mounted_volumes(context: Mapping[str, Any], target: Mapping[str, Any]) -> list[str] | None:
    """The Docker names of the named volumes the target's service mounts, from the compose file a
    compose_graph context call returned (include_file); None without that file or a service."""
    compose = _compose_answer(context)
    service, project = target.get("service"), target.get("app_name")
    if compose is None or not service or not project:
        return None
    return service_volumes(str(compose.get("compose_file") or ""), str(project), str(service))


def service_volumes(compose_text: str, project: str, service: str) -> list[str] | None:
    """The Docker volumes `service` mounts in a compose file of project `project` (named volume
    `data` of project `shop` is `shop_data` unless named or external); None: not readable."""
    parsed = compose_services_and_volumes(compose_text)
    if parsed is None:
        return None
    services, declared = parsed
    spec = services.get(service)
    mounts = spec.get("volumes") if isinstance(spec, dict) else None
    names: list[str] = []
    for mount in mounts or []:
        key = _source(mount)
        if key is not None and key in declared:
            name = _docker_name(key, declared[key], project)
            if name not in names:
                names.append(name)
    return names


def active_disk_signals(context: Mapping[str, Any], volumes: Sequence[str]) -> list[dict[str, Any]]:
    """disk_pressure signals about one of `volumes` in an active_signals context answer."""
    found: list[dict[str, Any]] = []
    for entry in context.values():
        structured = entry.get("structured")
        if entry.get("tool") != "active_signals" or not entry.get("ok") or not isinstance(structured, dict):
            continue
        for signal in structured.get("signals") or []:
            about = signal.get("target") or {}
            if (
                signal.get("kind") == "disk_pressure"
                and about.get("kind") == "volume"
                and about.get("name") in volumes
            ):
                found.append(dict(signal))
    return found
