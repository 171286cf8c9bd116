"""Disk pressure: the filesystem of Docker's data root, or a volume with its own filesystem (tmpfs,
a mounted device), is nearly full or filling fast.

Each poll measures used/free space; successive samples give a fill rate (least-squares slope
over `disk_projection_window_s`) and a projection "full in ~N min". Local engines are measured
with statvfs (shutil.disk_usage); remote ones with `df` in a helper container when `df_image` is
set. Plain directory volumes live on the root filesystem and are covered by it (the root signal
lists the largest volumes).
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from mcp_server.docker_ops.disk import HELPER_LABEL, FilesystemUsage, parse_df_output, summarize_system_df

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..fmt import human_bytes, human_duration
from ..settings import DetectorSettings
from ..state import label_filters, labels_in_scope

if TYPE_CHECKING:
    import docker  # the helper container's client comes from `DockerHost.run`

_COMPOSE_PROJECT = "com.docker.compose.project"


@dataclass(frozen=True)
class Measured:
    """One filesystem to judge: what it is and its usage now."""

    target: Target
    what: str
    usage: FilesystemUsage


def fill_rate(samples: list[tuple[datetime, int]]) -> float | None:
    """Least-squares slope of used bytes over time, in bytes per second (None without spread)."""
    if len(samples) < 2:
        return None
    t0 = samples[0][0]
    xs = [(at - t0).total_seconds() for at, _ in samples]
    ys = [float(used) for _, used in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var <= 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def _helper_df(client: docker.DockerClient, image: str, volume: str | None, path: str) -> FilesystemUsage:
    """`df` in a short-lived helper container that mounts the volume (or host path) read-only."""
    mount = {volume or path: {"bind": "/measured", "mode": "ro"}}
    output = client.containers.run(
        image,
        ["df", "-P", "-k", "/measured"],
        volumes=mount,
        network_mode="none",
        labels={HELPER_LABEL: "detectors-disk"},
        remove=True,
        stdout=True,
        stderr=True,
    )
    return parse_df_output(output.decode("utf-8", "replace"), path)


class DiskPressureDetector(Detector):
    name = "disk_pressure"
    runbook = "disk-filling"
    description = "the Docker data filesystem or a volume is nearly full or filling fast"

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._history: dict[str, deque[tuple[datetime, int]]] = {}
        self._root_dir: str | None = None
        self._system_df: tuple[float, dict[str, Any]] | None = None

    def poll_interval_s(self) -> float | None:
        return self.settings.disk_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        findings = Findings(complete=True)
        measured: list[Measured] = []
        root = await self._measure_root(ctx, findings)
        if root is not None:
            measured.append(root)
        measured += await self._measure_volumes(ctx, findings)
        for item in measured:
            signal = await self._judge(ctx, item)
            if signal is not None:
                findings.firing.append(signal)
        return findings

    # -- measuring -------------------------------------------------------------------------------
    def _local(self, ctx: DetectorContext, path: str) -> bool:
        return ctx.host.is_local_socket and os.path.isdir(path)

    async def _measure_root(self, ctx: DetectorContext, findings: Findings) -> Measured | None:
        if self._root_dir is None:
            info = await ctx.host.info()
            self._root_dir = str(info.get("DockerRootDir") or "/var/lib/docker")
        root = self._root_dir
        target = Target.for_path(ctx.host_name, root)
        if self._local(ctx, root):
            usage = await anyio.to_thread.run_sync(shutil.disk_usage, root)
            fs = FilesystemUsage(
                path=root,
                total_bytes=usage.total,
                used_bytes=usage.used,
                free_bytes=usage.free,
                used_percent=round(usage.used / (usage.used + usage.free) * 100, 1) if usage.total else 0.0,
                measured_by="local",
            )
        elif self.settings.df_image:
            image = self.settings.df_image
            fs = await ctx.host.run(
                lambda c: _helper_df(c, image, None, root), what=f"df {root} with {image}"
            )
        else:
            findings.undecided.add(self.fingerprint_of(target))
            findings.notes.append(
                f"disk of {root} not measured: the engine is remote; set df_image to an image with df"
            )
            return None
        return Measured(target, f"filesystem {root} (Docker data root)", fs)

    async def _measure_volumes(self, ctx: DetectorContext, findings: Findings) -> list[Measured]:
        filters = {"label": label_filters(self.settings)} if self.settings.include_labels else None
        answer = await ctx.host.read(lambda reads: reads.volumes(filters=filters), what="list volumes")
        measured: list[Measured] = []
        for volume in (answer or {}).get("Volumes") or []:
            labels = volume.get("Labels") or {}
            if volume.get("Driver") != "local" or not labels_in_scope(labels, self.settings):
                continue
            name = str(volume.get("Name", ""))
            mountpoint = str(volume.get("Mountpoint", ""))
            options = volume.get("Options") or {}
            target = Target.for_volume(ctx.host_name, name, project=labels.get(_COMPOSE_PROJECT))
            fs = await self._measure_volume(ctx, name, mountpoint, options, target, findings)
            if fs is not None:
                kind = options.get("type") or "mounted"
                measured.append(Measured(target, f"volume {name} ({kind})", fs))
        return measured

    async def _measure_volume(
        self,
        ctx: DetectorContext,
        name: str,
        mountpoint: str,
        options: dict[str, str],
        target: Target,
        findings: Findings,
    ) -> FilesystemUsage | None:
        if ctx.host.is_local_socket and mountpoint:
            # only a volume with its own filesystem is mounted there; a plain directory volume is
            # part of the root filesystem, and an unused tmpfs volume is not mounted at all
            if not await anyio.to_thread.run_sync(os.path.ismount, mountpoint):
                return None
            usage = await anyio.to_thread.run_sync(shutil.disk_usage, mountpoint)
            used_free = usage.used + usage.free
            return FilesystemUsage(
                path=mountpoint,
                total_bytes=usage.total,
                used_bytes=usage.used,
                free_bytes=usage.free,
                used_percent=round(usage.used / used_free * 100, 1) if used_free else 0.0,
                measured_by="local",
            )
        if self.settings.df_image and (options.get("type") or options.get("device")):
            image = self.settings.df_image
            return await ctx.host.run(
                lambda c: _helper_df(c, image, name, mountpoint), what=f"df of volume {name} with {image}"
            )
        if options.get("type") or options.get("device"):
            findings.undecided.add(self.fingerprint_of(target))
        return None

    # -- judging ---------------------------------------------------------------------------------
    def _projection(self, key: str, at: datetime, fs: FilesystemUsage) -> tuple[float | None, float | None]:
        """(fill rate bytes/s, seconds until full) from this and earlier samples."""
        history = self._history.setdefault(key, deque(maxlen=500))
        history.append((at, fs.used_bytes))
        horizon = at - timedelta(seconds=self.settings.disk_projection_window_s)
        while history and history[0][0] < horizon:
            history.popleft()
        if len(history) < self.settings.disk_min_samples:
            return None, None
        rate = fill_rate(list(history))
        if rate is None or rate <= 0:
            return rate, None
        return rate, fs.free_bytes / rate

    async def _judge(self, ctx: DetectorContext, item: Measured) -> Signal | None:
        fs = item.usage
        rate, eta = self._projection(item.target.key(), ctx.now(), fs)
        pct = fs.used_percent
        s = self.settings
        critical = pct >= s.disk_critical_percent or (eta is not None and eta <= s.disk_fill_critical_s)
        warning = pct >= s.disk_warning_percent or (eta is not None and eta <= s.disk_fill_warning_s)
        if not (critical or warning):
            return None
        growth = ""
        if rate is not None and rate > 0 and eta is not None:
            growth = f", growing {human_bytes(rate * 60)}/min: full in {human_duration(eta)}"
        evidence: dict[str, Any] = {
            "used_percent": pct,
            "used_bytes": fs.used_bytes,
            "free_bytes": fs.free_bytes,
            "total_bytes": fs.total_bytes,
            "fill_rate_bytes_per_s": round(rate, 1) if rate is not None else None,
            "projected_full_in_s": round(eta, 1) if eta is not None else None,
            "samples": len(self._history.get(item.target.key(), ())),
            "measured_by": fs.measured_by,
            "path": fs.path,
        }
        if item.target.kind == "path":
            evidence.update(await self._root_breakdown(ctx))
        return self.signal(
            ctx,
            item.target,
            Severity.critical if critical else Severity.warning,
            f"{item.what} is {pct:.0f}% full ({human_bytes(fs.used_bytes)} of "
            f"{human_bytes(fs.used_bytes + fs.free_bytes)}){growth}",
            evidence,
        )

    async def _root_breakdown(self, ctx: DetectorContext) -> dict[str, Any]:
        """What uses the Docker root: reclaimable space per kind and the largest volumes.
        `docker system df` walks every volume, so it runs at most every ten minutes."""
        if self._system_df is None or time.monotonic() - self._system_df[0] > 600:
            raw = await ctx.host.run(lambda c: c.df(), what="docker system df")
            kinds, largest = summarize_system_df(raw)
            breakdown = {
                "reclaimable_bytes": {k.kind: k.reclaimable_bytes for k in kinds},
                "largest_volumes": [{"name": v.name, "size_bytes": v.size_bytes} for v in largest[:5]],
            }
            self._system_df = (time.monotonic(), breakdown)
        return self._system_df[1]
