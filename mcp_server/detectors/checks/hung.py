"""Hung: a running container stopped logging for much longer than it usually does, and it is not
using CPU either (a worker stuck on a lock or a dead connection, like a frozen n8n worker).

The usual gap between log lines is learned per service (the 95th percentile of the gaps seen), so a
chatty API and a quiet cron-like worker each get their own norm. A container is flagged when its
silence exceeds max(hung_min_silence_s, hung_norm_factor × usual gap) and its CPU stayed near zero
through the silence. Containers that never logged enough to learn a norm are never flagged.

Which containers are checked (`hung_scope`, default `workers`): those labelled
`infraguardian.hung.after=<age>` (then that age is the threshold, no norm needed) or `=true`, and
those that look like queue workers by name, image, command or service. Checking every container
read every container's log every poll; web servers and databases are quiet by nature anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio

from ..base import Detector, DetectorContext, Findings, Severity, Signal
from ..fmt import window_text
from ..log_files import HUNG_LABEL, HungOptIn, hung_opt_in, looks_like_worker
from ..samplers import LogActivity
from ..settings import DetectorSettings
from ..state import ContainerRef, label_filters, labels_in_scope


class HungDetector(Detector):
    name = "hung"
    runbook = "hung-worker"
    description = "a running container is silent for far longer than usual and uses no CPU"

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._worker_like: dict[str, bool] = {}  # container id -> looks like a worker

    def poll_interval_s(self) -> float | None:
        return self.settings.hung_interval_s

    async def _candidates(
        self, ctx: DetectorContext
    ) -> tuple[list[tuple[ContainerRef, HungOptIn]], set[str]]:
        """(running containers this detector checks, ids of every running watched container).
        One list call: the command is in the list entry, so no container is inspected to decide;
        the worker test runs once per container (its name, image and command never change)."""
        filters: dict[str, Any] = {"status": "running"}
        if labels := label_filters(self.settings):
            filters["label"] = labels
        entries = await ctx.host.run(lambda c: c.api.containers(filters=filters), what="list containers")
        chosen: list[tuple[ContainerRef, HungOptIn]] = []
        running: set[str] = set()
        for entry in entries:
            entry_labels = entry.get("Labels") or {}
            if not labels_in_scope(entry_labels, self.settings):
                continue
            cid = str(entry.get("Id", ""))
            running.add(cid)
            worker = self._worker_like.get(cid)
            if worker is None:
                names = entry.get("Names") or [""]
                worker = self._worker_like[cid] = looks_like_worker(
                    str(names[0]), str(entry.get("Image", "")), str(entry.get("Command") or ""), entry_labels
                )
            opt_in = hung_opt_in(entry_labels, self.settings.hung_scope, worker_like=worker)
            if opt_in.checked:
                chosen.append((ContainerRef.from_list_entry(entry), opt_in))
        for gone in set(self._worker_like) - running:
            del self._worker_like[gone]
        return chosen, running

    async def poll(self, ctx: DetectorContext) -> Findings:
        await ctx.stats.refresh()
        candidates, running = await self._candidates(ctx)
        findings = Findings(complete=True)
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def judge(ref: ContainerRef, opt_in: HungOptIn) -> None:
            async with limiter:
                details = await ctx.containers.details(ref.id)
                if details is None or not details.running or details.paused:
                    return
                log_path = await ctx.logs.log_path(ref.id)
                activity = await ctx.logs.observe(
                    ref, ctx.host_name, details.started_at, ctx.engine_now(), log_path=log_path
                )
            signal = self._judge(ctx, ref, activity, opt_in, details.started_at)
            if signal is not None:
                findings.firing.append(signal)

        async with anyio.create_task_group() as tg:
            for ref, opt_in in candidates:
                tg.start_soon(judge, ref, opt_in)
        ctx.logs.prune(running)
        return findings

    def _judge(
        self,
        ctx: DetectorContext,
        ref: ContainerRef,
        activity: LogActivity,
        opt_in: HungOptIn,
        started_at: datetime | None,
    ) -> Signal | None:
        if not activity.readable:
            return None
        if opt_in.after_s is not None:
            # the owner said how long is too long: no learned norm needed; a container that never
            # logged is silent since it started
            last = activity.last_line_at or started_at
            if last is None:
                return None
            threshold_s = opt_in.after_s
        else:
            if activity.norm_gap_s is None or activity.last_line_at is None:
                return None
            last = activity.last_line_at
            threshold_s = max(
                self.settings.hung_min_silence_s, self.settings.hung_norm_factor * activity.norm_gap_s
            )
        silence_s = (ctx.engine_now() - last).total_seconds()
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
        if activity.norm_gap_s is not None and opt_in.after_s is None:
            usual = f"usually a line every {window_text(activity.norm_gap_s)}"
        else:
            usual = f"limit {window_text(threshold_s)} from {HUNG_LABEL}"
        return self.signal(
            ctx,
            target,
            Severity.warning,
            f"container {ref.name} may be hung: no log output for {window_text(silence_s)} "
            f"({usual}) and ~{cpu_avg:.1f}% CPU",
            {
                "silence_s": round(silence_s, 1),
                "usual_gap_s": round(activity.norm_gap_s, 2) if activity.norm_gap_s is not None else None,
                "threshold_s": round(threshold_s, 1),
                "checked_because": opt_in.reason,
                "gaps_observed": activity.gaps_observed,
                "last_line_at": activity.last_line_at,
                "cpu_avg_percent": round(cpu_avg, 2),
                "cpu_max_percent": round(max(cpu), 2),
                "cpu_samples": len(cpu),
                "last_log_lines": activity.last_lines,
            },
        )
