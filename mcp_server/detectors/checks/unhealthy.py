"""Unhealthy: a container's HEALTHCHECK fails.

Event-driven on `health_status` (unhealthy raises, healthy resolves) and polled (every unhealthy
container, so a missed event or an engine restart cannot hide one). The evidence carries the last
probe outputs Docker kept, which usually say what is wrong; on an event the signal is raised at
once and those outputs follow in an update.
"""

from __future__ import annotations

from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.models import ContainerDetails

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..state import target_from_labels

_PROBE_OUTPUT_CHARS = 400
_CRITICAL_STREAK = 10


class UnhealthyDetector(Detector):
    name = "unhealthy"
    runbook = "unhealthy"
    description = "a container's health check fails"
    event_actions = frozenset({"health_status", "destroy"})

    def poll_interval_s(self) -> float | None:
        return self.settings.unhealthy_poll_interval_s

    def _signal(self, ctx: DetectorContext, details: ContainerDetails) -> Signal | None:
        health = details.health
        if health is None or health.status != "unhealthy":
            return None
        probes = health.probes[-3:]
        last_output = " ".join(probes[-1].output.split())[:120] if probes else ""
        target = target_from_labels(ctx.host_name, details.name, details.id, details.labels)
        streak = health.failing_streak
        return self.signal(
            ctx,
            target,
            Severity.critical if streak >= _CRITICAL_STREAK else Severity.warning,
            f"container {details.name} is unhealthy"
            + (f"; last probe said: {last_output}" if last_output else "; the probe printed nothing"),
            {
                "failing_streak": streak,
                "probes": [
                    {
                        "exit_code": p.exit_code,
                        "start": p.start,
                        "output": p.output.strip()[-_PROBE_OUTPUT_CHARS:],
                    }
                    for p in probes
                ],
                "status": details.status,
                "restart_count": details.restart_count,
            },
        )

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        name = event.container_name or event.container_id[:12]
        target = target_from_labels(ctx.host_name, name, event.container_id, event.attributes)
        signal_id = self.fingerprint_of(target)
        if event.action == "destroy":
            return Findings(cleared={signal_id: f"container {name} was removed"})
        if event.health_status == "healthy":
            return Findings(cleared={signal_id: f"container {name} is healthy again"})
        if event.health_status != "unhealthy":
            return Findings()
        quick = self.signal(
            ctx,
            target,
            Severity.warning,
            f"container {name} is unhealthy; reading the last probe output",
            {"status": "unhealthy", "event_time": event.time},
        )

        async def probes() -> Signal | None:
            details = await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
            return self._signal(ctx, details) if details else None

        return Findings.raised_first(quick, probes)

    async def poll(self, ctx: DetectorContext) -> Findings:
        findings = Findings(complete=True)
        for ref in await ctx.containers.find(health="unhealthy"):
            details = await ctx.containers.details(ref.id, max_age_s=0)
            signal = self._signal(ctx, details) if details else None
            if signal:
                findings.firing.append(signal)
        return findings
