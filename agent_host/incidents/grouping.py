"""From signals to incidents: which incident a signal belongs to.

A signal's target is reduced to the service it is about (`service:<host>/<app>/<service>`; other
targets keep their own key), which is the incident's root-cause fingerprint. While an incident is
open, signals with its fingerprint — or about a service that depends on its target (the compose
graph's blast radius, once analysed) — are attached to it instead of opening another: postgres down
plus the api's errors is one incident blaming postgres. A signal already handled by a closed
incident (not seen again since it closed) opens nothing; seen again, it is a recurrence and opens a
new incident — unless the target was escalated recently: then a human has it, and the signal joins
the escalated incident (a flapping service is escalated once, not again at every crash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mcp_server.protected import SELF_LABEL

from .model import Incident


def incident_target(signal: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The incident's target (what the runbooks' placeholders read) and its key."""
    raw = signal.get("target") or {}
    host = raw.get("host") or "local"
    target = {
        "host": host,
        "app_name": raw.get("app_name") or raw.get("project"),
        "service": raw.get("service"),
        "container": raw.get("container_name")
        or (raw.get("name") if raw.get("kind") == "container" else None),
        "domain": raw.get("name") if raw.get("kind") == "domain" else None,
        "deployment_id": (signal.get("evidence") or {}).get("deployment_id"),
    }
    target = {k: v for k, v in target.items() if v is not None}
    if (raw.get("labels") or {}).get(SELF_LABEL) == "true":
        target["infraguardian_self"] = True  # the server marks InfraGuardian's own containers
    if target.get("app_name") and target.get("service"):
        key = f"service:{host}/{target['app_name']}/{target['service']}"
    else:
        key = f"{raw.get('kind', 'unknown')}:{host}/{raw.get('name') or raw.get('project') or '?'}"
    return target, key


def incident_id(fingerprint: str, first_seen: str) -> str:
    """Stable for one signal occurrence: a restart that re-reads the same signal finds the same id."""
    digest = hashlib.sha256(f"{fingerprint}|{first_seen}".encode()).hexdigest()[:8]
    return f"inc-{digest}"


def new_incident(signal: Mapping[str, Any]) -> Incident:
    target, key = incident_target(signal)
    return Incident(
        id=incident_id(key, str(signal.get("first_seen"))),
        fingerprint=key,
        target=target,
        target_key=key,
        kind=str(signal.get("kind")),
        severity=str(signal.get("severity") or "warning"),
        summary=str(signal.get("summary") or signal.get("kind")),
        runbook=signal.get("runbook"),
        signals=[dict(signal)],
    )


SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}

# Kinds that say a service keeps dying without saying why. When one arrives beside a signal that
# names the cause (an OOM kill, a failed health check) for the same service, the cause must open
# the incident: its runbook has the fix, the symptom's runbook only rolls back or escalates.
SYMPTOM_KINDS = frozenset({"crash_loop", "restart_storm"})


def causes_first(signals: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """`signals` with the symptom kinds last (otherwise in the server's order)."""
    return sorted(signals, key=lambda s: str(s.get("kind")) in SYMPTOM_KINDS)


def attach(incident: Incident, signal: Mapping[str, Any]) -> bool:
    """Add or refresh `signal` on the incident; True when the incident changed (a new signal, or
    a more severe one: an OOM first raised as a warning becomes critical once inspected)."""
    graver = SEVERITY_RANK.get(str(signal.get("severity")), 0) > SEVERITY_RANK.get(incident.severity, 0)
    if graver:
        incident.note("monitor", f"severity {incident.severity} → {signal.get('severity')}")
        incident.severity = str(signal.get("severity"))
    for index, known in enumerate(incident.signals):
        if known.get("id") == signal.get("id"):
            incident.signals[index] = dict(signal)
            return graver
    incident.signals.append(dict(signal))
    incident.note("monitor", f"signal attached: {signal.get('kind')} on {incident_target(signal)[1]}")
    return True


def routed_service(signal: Mapping[str, Any]) -> str | None:
    """The one service a domain signal's domain routes to (evidence `expected_target: web:8080`),
    or None when it names none or several."""
    targets = str((signal.get("evidence") or {}).get("expected_target") or "").split(",")
    services = {t.strip().rpartition(":")[0] for t in targets if t.strip()} - {"", "?"}
    return services.pop() if len(services) == 1 else None


def blames(incident: Incident, signal: Mapping[str, Any]) -> bool:
    """True when the signal is about a service that depends on the incident's target, or about a
    domain routed to it (the domain is down because the service behind it is: one incident), or
    about a volume the incident's service mounts (a vector DB answers slowly because its data
    volume fills: one incident; the reverse, a service's signal joining its volume's incident,
    is the first rule, as the volume's users are that incident's `dependants`)."""
    target, _ = incident_target(signal)
    raw = signal.get("target") or {}
    if raw.get("kind") == "volume":
        same_host = (raw.get("host") or "local") == incident.target.get("host", "local")
        return same_host and raw.get("name") in (incident.facts.get("service_volumes") or [])
    if target.get("app_name") != incident.target.get("app_name"):
        return False
    if target.get("domain"):
        service = incident.target.get("service")
        return service is not None and routed_service(signal) == service
    if not target.get("service"):
        return False
    return target["service"] in (incident.facts.get("dependants") or [])


def recurrence(candidate: Incident, signal: Mapping[str, Any]) -> Incident:
    """`candidate` as a new incident: its signal was seen again after the incident it opened closed.
    The server keeps one signal per kind and target, with its first `first_seen`, for as long as it
    keeps happening, so the new id comes from when it was seen again (stable across restarts too)."""
    again = incident_id(candidate.fingerprint, f"again {signal.get('last_seen')}")
    return candidate.model_copy(update={"id": again})


def left_to_human(last: Incident, hold_s: float, now: datetime) -> bool:
    """The newest incident for this fingerprint was escalated less than `hold_s` ago: a human has
    the target, so its new signals join that incident instead of opening (and escalating) another."""
    if last.status != "escalated" or last.closed_at is None:
        return False
    return (now - last.closed_at).total_seconds() < hold_s


def already_handled(last: Incident | None, signal: Mapping[str, Any]) -> bool:
    """The newest incident for this fingerprint is closed and the signal was not seen since."""
    if last is None or last.closed_at is None:
        return False
    seen = signal.get("last_seen")
    if not isinstance(seen, str):
        return True
    return datetime.fromisoformat(seen.replace("Z", "+00:00")) <= last.closed_at


def keep_attached(incident: Incident, stored: Incident) -> None:
    """Keep on `incident` (the graph's copy, about to be saved) what others added to the `stored`
    copy since the graph read it: signals the monitor attached while the incident was diagnosed,
    acted on or waiting for an approval (with their notes and severity), and victims another
    incident grouped into it. Without this the graph's next save would drop them from the record."""
    known = {signal.get("id") for signal in incident.signals}
    added = [signal for signal in stored.signals if signal.get("id") not in known]
    if added:
        incident.signals.extend(added)
        seen = {(event.step, event.message) for event in incident.events}
        notes = [e for e in stored.events if e.step == "monitor" and (e.step, e.message) not in seen]
        incident.events = sorted([*incident.events, *notes], key=lambda event: event.at)
    if SEVERITY_RANK.get(stored.severity, 0) > SEVERITY_RANK.get(incident.severity, 0):
        incident.severity = stored.severity
    incident.affected = sorted({*incident.affected, *stored.affected})


def holds(incident: Incident, signal: Mapping[str, Any]) -> bool:
    """The incident holds this signal (the server keeps one id per kind and target while it lasts):
    grouped into it, the signal's later history is that incident's (already handled, left to a
    human, or seen again: a recurrence)."""
    return any(known.get("id") == signal.get("id") for known in incident.signals)
