"""Exited non-zero: a container's main process ended with an error code, and nobody asked it to stop.

Event-driven on `die` (raised at once, evidence added by an update): a die shortly after a `kill`/`stop` request (docker stop, compose down, a
redeploy) is intended and ignored; exit 137 with OOMKilled is left to the OOM detector. A poll
re-reads containers that stay exited with an error code, in case the die event was missed.
"""

from __future__ import annotations

from datetime import timedelta

from mcp_server.docker_ops.events import ContainerEvent
from mcp_server.docker_ops.models import ContainerDetails

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..evidence import explain_exit_code, last_log_lines, short_exit_label
from ..state import target_from_labels

# exit codes a plain `docker stop` / `docker kill` produces: without the kill event we can't tell
# them from a crash, so the poll (which has no event) leaves them alone
_STOP_CODES = frozenset({130, 137, 143})


def _stays_down(details: ContainerDetails | None) -> bool:
    """True when Docker will not restart the container by itself after this exit."""
    if details is None:
        return True
    policy = details.restart_policy
    if policy.name == "no":
        return True
    if policy.name == "on-failure" and policy.maximum_retry_count:
        return details.restart_count >= policy.maximum_retry_count
    return False


class ExitedDetector(Detector):
    name = "exited"
    runbook = "exited-nonzero"
    description = "a container exited with a non-zero code without a stop request"
    event_actions = frozenset({"die"})

    def poll_interval_s(self) -> float | None:
        return self.settings.state_poll_interval_s

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        """Raised from the event at once (critical: down until known otherwise); the restart
        policy, which may lower it to a warning, and the last log lines follow in an update. Only exit 137 waits for `docker inspect`: without an oom
        event, it alone tells an OOM kill (the oom detector's) from a SIGKILL."""
        code = event.exit_code
        if code is None or code == 0:
            return Findings()
        if ctx.lifecycle.requested_stop(event.container_id, event.time):
            return Findings()
        oom = ctx.lifecycle.recent_oom(event.container_id, event.time)
        details = None
        if code == 137:
            if oom:
                return Findings()  # the oom detector reports this one
            details = await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
            if details and details.oom_killed:
                return Findings()
        name = event.container_name or event.container_id[:12]
        target = target_from_labels(ctx.host_name, name, event.container_id, event.attributes)
        quick = self._build(ctx, target, code, oom, details, None, policy_known=details is not None)

        async def gather() -> Signal:
            known = details or await ctx.containers.details_if_possible(event.container_id, max_age_s=0)
            return await self._signal(ctx, target, code, oom or bool(known and known.oom_killed), known)

        return Findings.raised_first(quick, gather)

    async def _signal(
        self, ctx: DetectorContext, target: Target, code: int, oom: bool, details: ContainerDetails | None
    ) -> Signal:
        log_lines = await last_log_lines(
            ctx.host,
            target.container_id or target.container_name or "",
            self.settings.log_lines_in_evidence,
        )
        return self._build(ctx, target, code, oom, details, log_lines)

    def _build(
        self,
        ctx: DetectorContext,
        target: Target,
        code: int,
        oom: bool,
        details: ContainerDetails | None,
        log_lines: list[str] | None,
        *,
        policy_known: bool = True,
    ) -> Signal:
        if policy_known:
            down = _stays_down(details)
            policy = details.restart_policy.name if details else "unknown"
            what = "stays down" if down else f"restart policy {policy} restarts it"
        else:  # raised before inspecting: down until the restart policy says Docker restarts it
            down, policy, what = True, "unknown", "reading its restart policy"
        evidence = {
            "exit_code": code,
            "oom_killed": oom,
            "explanation": explain_exit_code(code, oom),
            "restart_policy": policy,
            "restart_count": details.restart_count if details else None,
            "finished_at": details.finished_at if details else None,
            "engine_error": details.error if details else None,
        }
        if log_lines is not None:
            evidence["last_log_lines"] = log_lines
        return self.signal(
            ctx,
            target,
            Severity.critical if down else Severity.warning,
            f"container {target.container_name} exited with code {code} "
            f"({short_exit_label(code, oom)}); {what}",
            evidence,
            hold_s=self.settings.event_hold_s,
        )

    async def poll(self, ctx: DetectorContext) -> Findings:
        """Containers that are still exited with an error code from within the hold time."""
        findings = Findings()
        horizon = ctx.engine_now() - timedelta(seconds=self.settings.event_hold_s)
        for ref in await ctx.containers.find(status="exited"):
            if ctx.lifecycle.stop_requested_ever(ref.id):
                continue
            details = await ctx.containers.details(ref.id)
            if details is None or not details.exit_code or details.exit_code in _STOP_CODES:
                continue
            if details.finished_at is None or details.finished_at < horizon:
                continue
            target = target_from_labels(ctx.host_name, details.name, ref.id, details.labels)
            findings.firing.append(
                await self._signal(ctx, target, details.exit_code, details.oom_killed, details)
            )
        return findings
