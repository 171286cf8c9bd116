"""OOM kill: the kernel killed a process of a container because it reached its memory limit.

Event-driven: `oom` (a process in the container was killed; warning) and `die` with exit 137 and
OOMKilled=true (the main process died of it; critical). Signals are raised from the event at once;
the memory limit, restart count and last log lines follow in an update. A poll re-reads exited containers that
were OOM-killed recently, in case the events were missed (engine restart, stream gap).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.models import ContainerDetails

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..evidence import explain_exit_code, last_log_lines
from ..fmt import human_bytes
from ..state import target_from_labels


def _limit_text(details: ContainerDetails | None) -> str:
    if details is None:  # removed since (e.g. a replayed event after a redeploy): don't guess
        return "memory limit unknown, the container is gone"
    if not details.limits.memory_bytes:
        return "no memory limit (host memory ran out)"
    return f"memory limit {human_bytes(details.limits.memory_bytes)}"


class OomDetector(Detector):
    name = "oom"
    runbook = "oom-killed"
    description = "a container was killed by the kernel OOM killer (memory limit reached)"
    event_actions = frozenset({"oom", "die"})

    def poll_interval_s(self) -> float | None:
        return self.settings.state_poll_interval_s

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        """Raised from the event alone; the memory limit and last logs follow (raise first)."""
        name = event.container_name or event.container_id[:12]
        target = target_from_labels(ctx.host_name, name, event.container_id, event.attributes)
        if event.action == "oom":
            quick = self.signal(
                ctx,
                target,
                Severity.warning,
                f"the OOM killer killed a process in container {name}",
                {"event": "oom", "event_time": event.time},
                hold_s=self.settings.event_hold_s,
                occurred_at=event.time,
            )

            async def limit() -> Signal:
                details = await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
                return self._process_killed(ctx, target, event, details)

            return Findings.raised_first(quick, limit)
        if event.action != "die" or event.exit_code != 137:
            return Findings()
        if ctx.lifecycle.recent_oom(event.container_id, event.time):
            quick = self.signal(
                ctx,
                target,
                Severity.critical,
                f"container {name} was OOM-killed: exit 137",
                {"exit_code": 137, "oom_killed": True, "finished_at": event.time},
                hold_s=self.settings.event_hold_s,
                occurred_at=event.time,
            )

            async def died() -> Signal:
                details = await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
                return await self._died(ctx, event.container_id, event, details)

            return Findings.raised_first(quick, died)
        # exit 137 without an oom event: only `docker inspect` tells an OOM kill from a SIGKILL
        details = await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
        if not (details and details.oom_killed):
            return Findings()
        quick = self._died_signal(ctx, event.container_id, event, details, None)

        async def logs() -> Signal:
            return await self._died(ctx, event.container_id, event, details)

        return Findings.raised_first(quick, logs)

    def _process_killed(
        self, ctx: DetectorContext, target: Target, event: ContainerEvent, details: ContainerDetails | None
    ) -> Signal:
        name = target.container_name or event.container_id[:12]
        return self.signal(
            ctx,
            target,
            Severity.warning,
            f"the OOM killer killed a process in container {name} ({_limit_text(details)})",
            {
                "event": "oom",
                "event_time": event.time,
                "memory_limit_bytes": details.limits.memory_bytes if details else None,
                "container_running": details.running if details else None,
            },
            hold_s=self.settings.event_hold_s,
            occurred_at=event.time,
        )

    async def _died(
        self,
        ctx: DetectorContext,
        container_id: str,
        event: ContainerEvent | None,
        details: ContainerDetails | None,
    ) -> Signal:
        log_lines = await last_log_lines(ctx.host, container_id, ctx.settings.log_lines_in_evidence)
        return self._died_signal(ctx, container_id, event, details, log_lines)

    def _died_signal(
        self,
        ctx: DetectorContext,
        container_id: str,
        event: ContainerEvent | None,
        details: ContainerDetails | None,
        log_lines: list[str] | None,
    ) -> Signal:
        name = (
            (details.name if details else None)
            or (event.container_name if event else None)
            or container_id[:12]
        )
        labels = details.labels if details else (event.attributes if event else {})
        target = target_from_labels(ctx.host_name, name, container_id, labels)
        peak = max((s.memory_used_bytes for s in ctx.stats.history(container_id)), default=None)
        finished = (details.finished_at if details else None) or (event.time if event else None)
        evidence: dict[str, Any] = {
            "exit_code": 137,
            "oom_killed": True,
            "memory_limit_bytes": details.limits.memory_bytes if details else None,
            "memory_peak_sampled_bytes": peak,
            "restart_policy": details.restart_policy.name if details else None,
            "restart_count": details.restart_count if details else None,
            "finished_at": finished,
            "explanation": explain_exit_code(137, True),
        }
        if log_lines is not None:
            evidence["last_log_lines"] = log_lines
        return self.signal(
            ctx,
            target,
            Severity.critical,
            f"container {name} was OOM-killed: exit 137, {_limit_text(details)}",
            evidence,
            hold_s=self.settings.event_hold_s,
            occurred_at=finished,
        )

    async def poll(self, ctx: DetectorContext) -> Findings:
        """Exited containers that the OOM killer ended within the hold time (missed events)."""
        findings = Findings()
        horizon = ctx.engine_now() - timedelta(seconds=self.settings.event_hold_s)
        for ref in await ctx.containers.find(status="exited"):
            details = await ctx.containers.details(ref.id)
            if details is None or not details.oom_killed or details.exit_code != 137:
                continue
            if details.finished_at is None or details.finished_at < horizon:
                continue
            findings.firing.append(await self._died(ctx, ref.id, None, details))
        return findings
