"""Unhealthy: a container's HEALTHCHECK fails.

Event-driven on `health_status` (unhealthy raises, healthy resolves) and polled (every unhealthy
container, so a missed event or an engine restart cannot hide one). The evidence carries the last
probe outputs Docker kept, which usually say what is wrong; on an event the signal is raised at
once and those outputs follow in an update.

The full evidence also carries `own_probe`: the container's own ports probed once by this server
(GET, or a TCP connect; see `..own_probe`), because a process that answers while its health check
fails points at the check's configuration, not at the process. It is null, with `own_probe_note`
saying why, when there is no port to probe, none is reachable, or `infraguardian.probe=off`.
"""

from __future__ import annotations

from typing import Any

import anyio

from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.host import DockerOpsError
from mcp_server.docker_ops.models import ContainerDetails

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..own_probe import probe_once
from ..state import ContainerRef, target_from_labels

_PROBE_OUTPUT_CHARS = 400
_CRITICAL_STREAK = 10


class UnhealthyDetector(Detector):
    name = "unhealthy"
    runbook = "unhealthy"
    description = "a container's health check fails"
    event_actions = frozenset({"health_status", "destroy"})

    def poll_interval_s(self) -> float | None:
        return self.settings.unhealthy_poll_interval_s

    async def _full_signal(
        self, ctx: DetectorContext, details: ContainerDetails, ref: ContainerRef | None
    ) -> Signal | None:
        """The signal with the probe outputs Docker kept and our own probe of its ports."""
        health = details.health
        if health is None or health.status != "unhealthy":
            return None
        if ref is None:
            own, note = None, "the container is not in the engine's list of running containers"
        else:
            own, note = await probe_once(ref, self.settings)
        return self._signal(ctx, details, own, note)

    def _signal(
        self, ctx: DetectorContext, details: ContainerDetails, own: dict[str, Any] | None, note: str
    ) -> Signal:
        health = details.health
        assert health is not None
        probes = health.probes[-3:]
        last_output = " ".join(probes[-1].output.split())[:120] if probes else ""
        target = target_from_labels(ctx.host_name, details.name, details.id, details.labels)
        streak = health.failing_streak
        evidence: dict[str, Any] = {
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
            "own_probe": own,
        }
        if own is None:
            evidence["own_probe_note"] = note
        return self.signal(
            ctx,
            target,
            Severity.critical if streak >= _CRITICAL_STREAK else Severity.warning,
            f"container {details.name} is unhealthy"
            + (f"; last probe said: {last_output}" if last_output else "; the probe printed nothing")
            + _own_probe_text(own),
            evidence,
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
            if details is None:
                return None
            try:
                running = await ctx.containers.find()
            except DockerOpsError:
                running = []  # the probe outputs are still worth reporting
            ref = next((r for r in running if r.id == event.container_id), None)
            return await self._full_signal(ctx, details, ref)

        return Findings.raised_first(quick, probes)

    async def poll(self, ctx: DetectorContext) -> Findings:
        findings = Findings(complete=True)
        unhealthy: list[tuple[ContainerRef, ContainerDetails]] = []
        for ref in await ctx.containers.find(health="unhealthy"):
            details = await ctx.containers.details(ref.id, max_age_s=0)
            if details and details.health and details.health.status == "unhealthy":
                unhealthy.append((ref, details))
        # each own probe may wait up to probe_timeout_s: the containers are probed side by side
        limiter = anyio.CapacityLimiter(self.settings.concurrency)
        own: dict[str, tuple[dict[str, Any] | None, str]] = {}

        async def probe(ref: ContainerRef) -> None:
            async with limiter:
                own[ref.id] = await probe_once(ref, self.settings)

        async with anyio.create_task_group() as tg:
            for ref, _ in unhealthy:
                tg.start_soon(probe, ref)
        for ref, details in unhealthy:
            findings.firing.append(self._signal(ctx, details, *own[ref.id]))
        return findings


def _own_probe_text(own: dict[str, Any] | None) -> str:
    """A few words on our own probe for the summary."""
    if own is None:
        return ""
    what = f"GET {own['path']}" if own.get("kind") == "http" else "a TCP connect"
    if own.get("answered"):
        status = f" ({own['status_code']})" if own.get("status_code") else ""
        return f"; its port {own['port']} answers our own {what}{status}"
    return (
        f"; its port {own['port']} does not answer our own {what}: {own.get('error') or own.get('outcome')}"
    )
