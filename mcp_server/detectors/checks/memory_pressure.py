"""Memory pressure: a container sits close to its memory limit for a while (the step before an
OOM kill). Judged from stats samples; used memory excludes page cache, like `docker stats`."""

from __future__ import annotations

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..fmt import human_bytes, window_text
from ..samplers import StatsSample, sustained


class MemoryPressureDetector(Detector):
    name = "memory_pressure"
    runbook = "memory-pressure"
    description = "a container uses most of its memory limit for minutes"

    def poll_interval_s(self) -> float | None:
        return self.settings.stats_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        await ctx.stats.refresh()
        findings = Findings(complete=True)
        warn = self.settings.memory_warning_percent
        crit = self.settings.memory_critical_percent
        duration = self.settings.memory_duration_s
        for ref, samples in ctx.stats.containers():
            if not samples[-1].memory_limit_set and not self.settings.memory_include_unlimited:
                continue
            run = sustained(samples, lambda s: s.memory_percent >= warn, duration)
            if run is None:
                continue
            critical = sustained(samples, lambda s: s.memory_percent >= crit, duration) is not None
            findings.firing.append(self._signal(ctx, ref.target(ctx.host_name), run, critical))
        return findings

    def _signal(self, ctx: DetectorContext, target: Target, run: list[StatsSample], critical: bool) -> Signal:
        latest = run[-1]
        held_s = (run[-1].at - run[0].at).total_seconds()
        limit_kind = "memory limit" if latest.memory_limit_set else "host memory (no limit set)"
        return self.signal(
            ctx,
            target,
            Severity.critical if critical else Severity.warning,
            f"container {target.container_name} uses {latest.memory_percent:.0f}% of its {limit_kind} "
            f"({human_bytes(latest.memory_used_bytes)} of {human_bytes(latest.memory_limit_bytes)}) "
            f"for {window_text(held_s)}",
            {
                "memory_used_bytes": latest.memory_used_bytes,
                "memory_limit_bytes": latest.memory_limit_bytes,
                "memory_limit_set": latest.memory_limit_set,
                "memory_percent": round(latest.memory_percent, 1),
                "peak_percent": round(max(s.memory_percent for s in run), 1),
                "held_for_s": round(held_s, 1),
                "threshold_percent": self.settings.memory_warning_percent,
                "samples_percent": [round(s.memory_percent, 1) for s in run[-10:]],
            },
        )
