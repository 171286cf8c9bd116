"""Restart storm: many services of one compose project (or stack) die within a short window.

One crash-looping service is a crash loop; several services of the same project failing together
usually share a cause (a database or network they all need, a bad shared env, the host itself).
Counts `die` events that were not requested stops, per project, over a sliding window.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from mcp_server.docker_ops.events import ContainerEvent

from ..base import Detector, DetectorContext, Findings, Severity, Target
from ..fmt import window_text
from ..settings import DetectorSettings


class RestartStormDetector(Detector):
    name = "restart_storm"
    runbook = "restart-storm"
    description = "several services of one compose project die within a short window"
    event_actions = frozenset({"die"})

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        # project → (event time, service) of recent unrequested exits
        self._exits: dict[str, deque[tuple[datetime, str]]] = {}

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        project = event.compose_project or event.stack_namespace
        if not project or ctx.lifecycle.requested_stop(event.container_id, event.time):
            return Findings()
        service = (
            event.compose_service or event.swarm_service or event.container_name or event.container_id[:12]
        )
        exits = self._exits.setdefault(project, deque(maxlen=1000))
        exits.append((event.time, service))
        horizon = event.time - timedelta(seconds=self.settings.restart_storm_window_s)
        while exits and exits[0][0] < horizon:
            exits.popleft()
        per_service: dict[str, int] = {}
        for _, name in exits:
            per_service[name] = per_service.get(name, 0) + 1
        if len(per_service) < self.settings.restart_storm_services:
            return Findings()
        services = sorted(per_service)
        target = Target.for_app(ctx.host_name, project)
        signal = self.signal(
            ctx,
            target,
            Severity.critical,
            f"restart storm in compose {project}: {len(services)} services ({', '.join(services[:6])}) "
            f"died {len(exits)} times in {window_text(self.settings.restart_storm_window_s)}",
            {
                "services": services,
                "exits_per_service": per_service,
                "exits_in_window": len(exits),
                "window_s": self.settings.restart_storm_window_s,
                "threshold_services": self.settings.restart_storm_services,
                "last_exit": {"service": service, "code": event.exit_code, "at": event.time},
            },
            hold_s=self.settings.restart_storm_window_s,
        )
        return Findings(firing=[signal])
