"""Hung: a running container stopped logging for much longer than it usually does, and it is not
using CPU either (a worker stuck on a lock or a dead connection, like a frozen n8n worker).

The usual gap between log lines is learned per service (the 95th percentile of the gaps seen), so a
chatty API and a quiet cron-like worker each get their own norm. A container is flagged when its
silence exceeds max(hung_min_silence_s, hung_norm_factor × usual gap) and its CPU stayed near zero
through the silence. Containers that never logged enough to learn a norm are never flagged.
"""

from __future__ import annotations

from datetime import timedelta

import anyio

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..fmt import window_text
from ..samplers import LogActivity
from ..state import ContainerRef


class HungDetector(Detector):
    name = "hung"
    runbook = "hung-worker"
    description = "a running container is silent for far longer than usual and uses no CPU"

    def poll_interval_s(self) -> float | None:
        return self.settings.hung_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        await ctx.stats.refresh()
        refs = await ctx.containers.find()
        findings = Findings(complete=True)
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def judge(ref: ContainerRef) -> None:
            async with limiter:
                details = await ctx.containers.details(ref.id)
                if details is None or not details.running or details.paused:
                    return
                activity = await ctx.logs.observe(ref, ctx.host_name, details.started_at, ctx.engine_now())
            signal = self._judge(ctx, ref, activity)
            if signal is not None:
                findings.firing.append(signal)

        async with anyio.create_task_group() as tg:
            for ref in refs:
                tg.start_soon(judge, ref)
        ctx.logs.prune({r.id for r in refs})
        return findings

    def _judge(self, ctx: DetectorContext, ref: ContainerRef, activity: LogActivity) -> Signal | None:
        if not activity.readable or activity.norm_gap_s is None or activity.last_line_at is None:
            return None
        silence_s = (ctx.engine_now() - activity.last_line_at).total_seconds()
        threshold_s = max(
            self.settings.hung_min_silence_s, self.settings.hung_norm_factor * activity.norm_gap_s
        )
        if silence_s < threshold_s:
            return None
        # CPU during the silence: every sample taken since the last line, at least two of them
        since = ctx.now() - timedelta(seconds=silence_s)
        cpu = [
            s.cpu_percent for s in ctx.stats.history(ref.id) if s.at >= since and s.cpu_percent is not None
        ]
        if len(cpu) < 2:
            return None
        cpu_avg = sum(cpu) / len(cpu)
        if cpu_avg > self.settings.hung_cpu_idle_percent:
            return None  # busy without logging: working, not hung (the CPU detector watches that)
        target = ref.target(ctx.host_name)
        return self.signal(
            ctx,
            target,
            Severity.warning,
            f"container {ref.name} may be hung: no log output for {window_text(silence_s)} "
            f"(usually a line every {window_text(activity.norm_gap_s)}) and ~{cpu_avg:.1f}% CPU",
            {
                "silence_s": round(silence_s, 1),
                "usual_gap_s": round(activity.norm_gap_s, 2),
                "threshold_s": round(threshold_s, 1),
                "gaps_observed": activity.gaps_observed,
                "last_line_at": activity.last_line_at,
                "cpu_avg_percent": round(cpu_avg, 2),
                "cpu_max_percent": round(max(cpu), 2),
                "cpu_samples": len(cpu),
                "last_log_lines": activity.last_lines,
            },
        )
