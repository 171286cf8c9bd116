"""Crash loop: the same container, compose service or swarm service keeps dying.

Counts `die` events that were not requested stops, per service (compose project + service, or
swarm service; a container without labels counts alone), over a sliding window of event times.
The signal resolves once a whole window passes without a new exit. It is raised from the event at
once; the last log lines follow in an update.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from mcp_server.docker_ops.events import ContainerEvent

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..evidence import last_log_lines, short_exit_label
from ..fmt import window_text
from ..settings import DetectorSettings
from ..state import service_level, target_from_event


@dataclass(frozen=True)
class Exit:
    at: datetime
    code: int | None
    container: str


class CrashLoopDetector(Detector):
    name = "crash_loop"
    runbook = "crash-loop"
    description = "a container or service exits again and again within a short window"
    event_actions = frozenset({"die"})

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._exits: dict[str, deque[Exit]] = {}

    def _window(self, key: str, now: datetime) -> deque[Exit]:
        exits = self._exits.setdefault(key, deque())
        horizon = now - timedelta(seconds=self.settings.crash_loop_window_s)
        while exits and exits[0].at < horizon:
            exits.popleft()
        return exits

    async def on_event(self, event: ContainerEvent, ctx: DetectorContext) -> Findings:
        if ctx.lifecycle.requested_stop(event.container_id, event.time):
            return Findings()
        target = service_level(target_from_event(ctx.host_name, event))
        key = target.key()
        exits = self._window(key, event.time)
        name = event.container_name or event.container_id[:12]
        exits.append(Exit(event.time, event.exit_code, name))
        if len(exits) > 4 * self.settings.crash_loop_exits:
            exits.popleft()  # enough to judge; keeps memory bounded during a long loop
        if len(exits) < self.settings.crash_loop_exits:
            return Findings()
        last_code = event.exit_code
        label = "unknown code" if last_code is None else f"code {last_code} ({short_exit_label(last_code)})"
        what = target.describe() if target.container_name is None else f"container {name}"
        signal = self.signal(
            ctx,
            target,
            Severity.critical,
            f"{what} is crash-looping: {len(exits)} exits in "
            f"{window_text(self.settings.crash_loop_window_s)}, last exit {label}",
            {
                "exits_in_window": len(exits),
                "window_s": self.settings.crash_loop_window_s,
                "threshold": self.settings.crash_loop_exits,
                "exit_codes": [e.code for e in exits],
                "exit_times": [e.at for e in exits],
                "containers": sorted({e.container for e in exits}),
                "last_container_id": event.container_id,
            },
            hold_s=self.settings.crash_loop_window_s,
        )

        async def logs() -> Signal:
            lines = await last_log_lines(ctx.host, event.container_id, self.settings.log_lines_in_evidence)
            return signal.model_copy(update={"evidence": {**signal.evidence, "last_log_lines": lines}})

        return Findings.raised_first(signal, logs)
