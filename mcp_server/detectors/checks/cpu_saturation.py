"""CPU saturation: a container uses (nearly) all the CPU it may use for a while: its CPU limit
when it has one (then it is being throttled), else all CPUs of the host."""

from __future__ import annotations

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..fmt import window_text
from ..samplers import StatsSample, sustained


def _share(sample: StatsSample) -> float:
    share = sample.cpu_share_percent
    return share if share is not None else -1.0


class CpuSaturationDetector(Detector):
    name = "cpu_saturation"
    runbook = "cpu-saturation"
    description = "a container uses nearly all of its CPU limit (or of the host's CPUs) for minutes"

    def poll_interval_s(self) -> float | None:
        return self.settings.stats_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        await ctx.stats.refresh()
        findings = Findings(complete=True)
        level = self.settings.cpu_percent
        for ref, samples in ctx.stats.containers():
            run = sustained(samples, lambda s: _share(s) >= level, self.settings.cpu_duration_s)
            if run is not None:
                findings.firing.append(self._signal(ctx, ref.target(ctx.host_name), run))
        return findings

    def _signal(self, ctx: DetectorContext, target: Target, run: list[StatsSample]) -> Signal:
        latest = run[-1]
        held_s = (run[-1].at - run[0].at).total_seconds()
        shares = [_share(s) for s in run]
        if latest.cpu_limit_cpus:
            of_what = f"its CPU limit ({latest.cpu_limit_cpus:g} CPUs)"
        else:
            of_what = f"all {latest.online_cpus} host CPUs (no limit set)"
        throttled = None
        if run[0].throttled_periods is not None and latest.throttled_periods is not None:
            throttled = latest.throttled_periods - run[0].throttled_periods
        return self.signal(
            ctx,
            target,
            Severity.warning,
            f"container {target.container_name} uses {latest.cpu_share_percent or 0:.0f}% of {of_what} "
            f"for {window_text(held_s)}",
            {
                "cpu_share_percent": round(shares[-1], 1),
                "cpu_share_avg_percent": round(sum(shares) / len(shares), 1),
                "cpu_percent_of_one_core": round(latest.cpu_percent or 0.0, 1),
                "cpu_limit_cpus": latest.cpu_limit_cpus,
                "online_cpus": latest.online_cpus,
                "throttled_periods_in_window": throttled,
                "held_for_s": round(held_s, 1),
                "threshold_percent": self.settings.cpu_percent,
                "samples_share_percent": [round(s, 1) for s in shares[-10:]],
            },
        )
