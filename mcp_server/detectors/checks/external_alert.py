"""External alerts: what Uptime Kuma and Alertmanager reported to the webhooks, as signals.

The webhook routes store every alert in the alert inbox (`mcp_server.hooks.inbox`, `ctx.alerts`). Every
`external_alert_poll_s` this detector asks the inbox for its change counter; when it moved, or while
something fires, it reads the firing alerts and maps each one to a service of this host
(`mcp_server.hooks.mapping`; containers and domains are re-read when the counter moved and every
`REMAP_EVERY_S`, so a service that appeared since is found). It answers with `complete=True`: an alert
that resolved (the sender said so, or it left its Alertmanager group) takes its signal with it once
no other alert about that service fires.

- One signal per service: a flood of 30 alerts about one service is one signal listing them.
- One signal per flood: an Alertmanager group whose alerts name more than FLOOD_SERVICES services at
  once (the network or the host is down, not six services one by one) is one signal on their compose
  project (or the host), so the agent opens one incident and a person gets one question.
- Alerts that map to no service are grouped per sender group (Alertmanager's group, an Uptime Kuma
  monitor), on the monitored domain when the URL names one, else on the host; different groups stay
  different signals (the group is in the fingerprint).
- Alert text (summaries, labels) is the sender's, untrusted: it goes in the evidence, bounded. The
  signal summary uses only names, severities and an HTTP status read from it.
- Without an inbox (`ctx.alerts` None) it finds nothing and resolves nothing.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcp_server.hooks.inbox import AlertInboxError, StoredAlert
from mcp_server.hooks.mapping import AlertMapping, ServiceIndex
from mcp_server.hooks.models import bounded

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target, fingerprint
from ..inputs import DomainSpec, resolve_provider
from ..settings import DetectorSettings

REMAP_EVERY_S = 30.0  # re-map alerts to services this often (containers come and go)
DOMAINS_MAX_AGE_S = 60.0  # Dokploy's domains are read at most this often
DOMAINS_RETRY_S = 10.0  # after a failed read of the domains, wait this long before the next
PRUNE_EVERY_S = 3600.0
KEEP_RESOLVED_ALERTS = 1000
EVIDENCE_ALERTS = 10  # alerts listed in a signal's evidence (gravest first); the count says how many more
EVIDENCE_LABELS = 12
EVIDENCE_TEXT_CHARS = 200
# One sender group naming more services than this at once is a flood: one signal, not one each
FLOOD_SERVICES = 5

_TITLES = {"alertmanager": "Alertmanager", "uptime-kuma": "Uptime Kuma"}
_KUMA_REASONS = {
    "timeout": "timeout",
    "connection_refused": "connection refused",
    "keyword": "keyword check failed",
}
_HTTP_STATUS = re.compile(r"(?:status code |^\[[^\]]*\] \[[^\]]*\] )(\d{3})\b")


@dataclass
class _Group:
    """The firing alerts that make one signal."""

    target: Target
    extra: str = ""  # fingerprint extra: the sender group of unmapped alerts
    alerts: list[StoredAlert] = field(default_factory=list)
    mappings: list[AlertMapping] = field(default_factory=list)


class ExternalAlertDetector(Detector):
    name = "external_alert"
    runbook = "external-alert"
    description = "an outside monitor (Uptime Kuma, Alertmanager) reports a service down or alerting"

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._seen_seq: int | None = None
        self._index: ServiceIndex | None = None
        self._indexed_at = 0.0
        self._pruned_at: float | None = None
        self._domains: tuple[float, list[DomainSpec]] | None = None
        self._domains_retry_at = 0.0
        # signal id -> what its alerts looked like when last reported (see `poll`)
        self._reported: dict[str, tuple[object, ...]] = {}

    def poll_interval_s(self) -> float | None:
        return self.settings.external_alert_poll_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        """The firing alerts as signals. A signal is reported (and its last_seen moves) only when its
        alerts changed or a sender repeated one since (Uptime Kuma's resend, Alertmanager's repeat):
        last_seen then says when a monitor last said "still down", which is what verifying a fix asks.
        Unchanged signals are left as they are (`undecided`); those whose alerts all resolved resolve."""
        inbox = ctx.alerts
        if inbox is None:
            return Findings()
        host = ctx.host_name
        started = time.monotonic()
        try:
            seq = await anyio.to_thread.run_sync(inbox.last_seq, host)
            if seq == self._seen_seq and not self._reported:
                return Findings()  # nothing fires and nothing changed
            if self._pruned_at is None or started - self._pruned_at >= PRUNE_EVERY_S:
                await anyio.to_thread.run_sync(inbox.prune, host, KEEP_RESOLVED_ALERTS)
                self._pruned_at = started
            firing = await anyio.to_thread.run_sync(inbox.firing, host)
        except AlertInboxError as exc:
            return Findings(notes=[str(exc)])  # undecided: nothing resolves while the inbox is unreadable
        notes: list[str] = []
        if seq != self._seen_seq or self._index is None or started - self._indexed_at >= REMAP_EVERY_S:
            domains = await self._current_domains(ctx, firing, notes)
            if domains is None:
                return Findings(notes=notes)
            containers = await ctx.containers.find(include_stopped=True) if firing else []
            self._index, self._indexed_at = ServiceIndex(host, containers, domains), started
        self._seen_seq = seq
        findings = Findings(complete=True, notes=notes)
        reported: dict[str, tuple[object, ...]] = {}
        for group in _groups(ctx, self._index, firing):
            signal = self._signal_of(ctx, group)
            state = (
                max(s.last_seen for s in group.alerts),
                tuple((s.alert.source, s.alert.key, s.seq) for s in group.alerts),
                signal.evidence.get("mapped_by"),
            )
            reported[signal.id] = state
            if self._reported.get(signal.id) == state:
                findings.undecided.add(signal.id)
            else:
                findings.firing.append(signal)
        self._reported = reported
        return findings

    async def _current_domains(
        self, ctx: DetectorContext, firing: list[StoredAlert], notes: list[str]
    ) -> list[DomainSpec] | None:
        """Dokploy's domains when an alert names a URL host (cached); None when they are needed but
        cannot be read yet (then nothing is decided this round, rather than mapping differently)."""
        if ctx.domains is None or not any(s.alert.target_hints.get("host") for s in firing):
            return []
        now = time.monotonic()
        if self._domains is not None and now - self._domains[0] < DOMAINS_MAX_AGE_S:
            return self._domains[1]
        if now < self._domains_retry_at:
            return self._domains[1] if self._domains is not None else None
        try:
            specs: list[DomainSpec] = await resolve_provider(ctx.domains)
        except Exception as exc:  # Dokploy down or refusing: map with what was known, say why
            self._domains_retry_at = now + DOMAINS_RETRY_S
            notes.append(
                f"Dokploy domains unreadable, alerts mapped without fresh domains: {type(exc).__name__}: {exc}"
            )
            return self._domains[1] if self._domains is not None else None
        self._domains = (now, specs)
        return specs

    def _signal_of(self, ctx: DetectorContext, group: _Group) -> Signal:
        alerts = sorted(group.alerts, key=lambda s: (-Severity(s.alert.severity).rank, s.first_seen, s.seq))
        severity = Severity(alerts[0].alert.severity)
        sources: list[str] = sorted({s.alert.source for s in alerts})
        mapped_by = list(dict.fromkeys(m.mapped_by for m in group.mappings if m.mapped_by))
        evidence: dict[str, Any] = {
            "alerts": [_alert_evidence(s) for s in alerts[:EVIDENCE_ALERTS]],
            "alerts_total": len(alerts),
            "sources": sources,
            "mapped_by": "; ".join(mapped_by[:3]) or None,
        }
        if group.extra.startswith("flood|"):
            evidence["flood_services"] = sorted(
                {f"{m.target.project}/{m.target.service}" for m in group.mappings if m.target is not None}
            )[: EVIDENCE_ALERTS * 3]
        if group.extra:
            evidence["group_key"] = bounded(group.extra, EVIDENCE_TEXT_CHARS)
            reasons = list(dict.fromkeys(r for m in group.mappings for r in m.reasons))
            evidence["unmapped_reasons"] = [bounded(r, EVIDENCE_TEXT_CHARS) for r in reasons[:5]]
        summary = _summary(alerts, sources, mapped=not group.extra)
        if group.extra.startswith("flood|"):
            count = len(evidence["flood_services"])
            summary = summary.replace("; not mapped to a service", f"; {count} services at once (a flood)")
        signal = self.signal(ctx, group.target, severity, summary, evidence)
        if group.extra:
            signal = signal.model_copy(update={"id": fingerprint(self.name, group.target, group.extra)})
        return signal


def _groups(ctx: DetectorContext, index: ServiceIndex, firing: list[StoredAlert]) -> list[_Group]:
    """Firing alerts grouped: per mapped service, else per sender group; a sender group that names
    more than FLOOD_SERVICES services at once is one group (see `_flood_groups`)."""
    floods, rest = _flood_groups(ctx, index, firing)
    return floods + _service_groups(ctx, index, rest)


def _flood_groups(
    ctx: DetectorContext, index: ServiceIndex, firing: list[StoredAlert]
) -> tuple[list[_Group], list[StoredAlert]]:
    """Sender groups (Alertmanager's group) whose firing alerts map to more than FLOOD_SERVICES
    services: something they share is down (the network, the host, a common dependency), so they
    are one signal — on their compose project when they share one, else on the host — instead of an
    incident per service. Returns those groups and the alerts left to group per service."""
    by_sender: dict[tuple[str, str], list[tuple[StoredAlert, AlertMapping]]] = {}
    for stored in firing:
        if stored.group_key:
            by_sender.setdefault((stored.alert.source, stored.group_key), []).append(
                (stored, index.map(stored.alert))
            )
    floods: list[_Group] = []
    flooded: set[int] = set()
    for (source, group_key), members in by_sender.items():
        services = {m.target.key() for _, m in members if m.target is not None}
        if len(services) <= FLOOD_SERVICES:
            continue
        projects = {m.target.project for _, m in members if m.target is not None}
        project = next(iter(projects)) if len(projects) == 1 else None
        target = Target.for_app(ctx.host_name, project) if project else Target.for_host(ctx.host_name)
        group = _Group(target, extra=f"flood|{source}|{group_key}")
        for stored, mapping in members:
            group.alerts.append(stored)
            group.mappings.append(mapping)
            flooded.add(id(stored))
        floods.append(group)
    return floods, [s for s in firing if id(s) not in flooded]


def _service_groups(ctx: DetectorContext, index: ServiceIndex, firing: list[StoredAlert]) -> list[_Group]:
    groups: dict[tuple[str, ...], _Group] = {}
    for stored in firing:
        mapping = index.map(stored.alert)
        if mapping.target is not None:
            key: tuple[str, ...] = ("service", mapping.target.key())
            group = groups.setdefault(key, _Group(mapping.target))
        else:
            sender_group = stored.group_key or stored.alert.key
            key = ("unmapped", stored.alert.source, sender_group)
            found = groups.get(key)
            if found is None:
                found = groups[key] = _Group(
                    _unmapped_target(ctx, stored), extra=f"{stored.alert.source}|{sender_group}"
                )
            group = found
        group.alerts.append(stored)
        group.mappings.append(mapping)
    return list(groups.values())


def _unmapped_target(ctx: DetectorContext, stored: StoredAlert) -> Target:
    """The monitored domain when the alert's URL names a host, else the whole Docker host."""
    url_host = stored.alert.target_hints.get("host", "").strip().lower()
    if url_host and len(url_host) <= 253:
        return Target.for_domain(ctx.host_name, url_host)
    return Target.for_host(ctx.host_name)


def _alert_evidence(stored: StoredAlert) -> dict[str, Any]:
    alert = stored.alert
    labels = dict(list(alert.labels.items())[:EVIDENCE_LABELS])
    return {
        "source": alert.source,
        "name": bounded(alert.name, 100),
        "summary": bounded(alert.summary, EVIDENCE_TEXT_CHARS),
        "severity": alert.severity,
        "key": bounded(alert.key, 100),
        "started_at": (alert.started_at or stored.first_seen).isoformat(),
        "url": bounded(alert.url, EVIDENCE_TEXT_CHARS) if alert.url else None,
        "labels": {bounded(k, 60): bounded(v, 100) for k, v in labels.items()},
    }


def _summary(alerts: list[StoredAlert], sources: list[str], *, mapped: bool) -> str:
    """ "Uptime Kuma: shop-api down (HTTP 502) — 2 alerts from uptime-kuma", from names and numbers
    only (the alert's own text stays in the evidence)."""
    top = alerts[0].alert
    state = "down" if top.source == "uptime-kuma" else "firing"
    line = f"{_TITLES.get(top.source, top.source)}: {bounded(top.name, 60)} {state}"
    detail = _detail(top.source, top.summary, top.labels, top.severity)
    if detail:
        line += f" ({detail})"
    if len(alerts) > 1:
        line += f" — {len(alerts)} alerts from {', '.join(sources)}"
    if not mapped:
        line += "; not mapped to a service"
    return line


def _detail(source: str, summary: str, labels: dict[str, str], severity: str) -> str:
    if source != "uptime-kuma":
        return severity
    reason = labels.get("kuma_reason", "")
    status = _HTTP_STATUS.search(summary)
    if reason != "keyword" and status and int(status.group(1)) >= 400:
        return f"HTTP {status.group(1)}"
    return _KUMA_REASONS.get(reason, "")
