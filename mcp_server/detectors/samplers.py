"""History the polled detectors judge: stats samples per container and log gaps per service.

StatsSampler reads each container's cgroup files where they are visible (no engine call), else the
engine's stats streams, and computes CPU % between its own consecutive samples (busy time over
wall time, like `docker stats`).
LogGapSampler reads only the log lines that are new since its last look and learns, per service,
how long the gaps between log lines usually are.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio

from mcp_server.docker_ops.cgroups import CgroupReader, CgroupSample, cgroup_cpu_percent, online_cpus
from mcp_server.docker_ops.containers import container_logs
from mcp_server.docker_ops.host import ContainerNotFound, DockerHost, DockerOpsError
from mcp_server.docker_ops.stats import cpu_percent, memory_without_cache

from .base import Clock
from .log_files import LogFileCursor, read_new_lines, readable_log_path
from .settings import DetectorSettings
from .state import ContainerDirectory, ContainerRef, service_level


@dataclass(frozen=True)
class StatsSample:
    """Resource use of one container at `at` (detector clock)."""

    at: datetime
    cpu_percent: float | None  # 100 = one core; None on a container's first sample
    online_cpus: int
    cpu_limit_cpus: float | None
    memory_used_bytes: int
    memory_limit_bytes: int
    memory_limit_set: bool
    throttled_periods: int | None = None

    @property
    def cpu_share_percent(self) -> float | None:
        """CPU use as a share of what the container may use: its limit, else all host CPUs."""
        if self.cpu_percent is None:
            return None
        capacity = self.cpu_limit_cpus or float(self.online_cpus or 1)
        return self.cpu_percent / capacity

    @property
    def memory_percent(self) -> float:
        return self.memory_used_bytes / self.memory_limit_bytes * 100.0 if self.memory_limit_bytes else 0.0


def sustained(
    samples: Sequence[StatsSample], holds: Callable[[StatsSample], bool], duration_s: float
) -> list[StatsSample] | None:
    """The newest run of samples for which `holds` is true, if it spans at least `duration_s`
    (newest first is checked; one failing sample ends the run). None when it does not."""
    run: list[StatsSample] = []
    for sample in reversed(samples):
        if not holds(sample):
            break
        run.append(sample)
    if not run:
        return None
    run.reverse()
    if (run[-1].at - run[0].at).total_seconds() >= duration_s:
        return run
    return None


class StatsSampler:
    """Samples CPU and memory of all watched running containers, at most once per `max_age_s`.

    Where the container's cgroup files are visible (the server runs on the engine's host, or sees
    its /sys/fs/cgroup) they are read directly: a round of 200 containers is a few milliseconds of
    file reads and no engine call. Other containers are read from the engine's stats streams (one
    open connection each, a sample every second), or with one-shot calls where streams are not
    possible (ssh:// or TLS engines). `cgroups` is a parameter so tests can hide the files.
    """

    def __init__(
        self,
        host: DockerHost,
        directory: ContainerDirectory,
        settings: DetectorSettings,
        clock: Clock,
        *,
        cgroups: CgroupReader | None = None,
    ) -> None:
        self.host = host
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.cgroups = cgroups or CgroupReader()
        self._history: dict[str, deque[StatsSample]] = {}
        self._refs: dict[str, ContainerRef] = {}
        self._raw_cpu: dict[str, dict[str, Any]] = {}
        self._cgroup_prev: dict[str, CgroupSample] = {}
        self._cgroup_misses: dict[str, int] = {}  # rounds in a row without cgroup files
        self._streaming = False
        self._last_round: float | None = None
        self._lock = anyio.Lock()
        self.last_round_sources: dict[str, int] = {}

    async def refresh(self, max_age_s: float | None = None) -> None:
        """Take a new round of samples unless the last round is younger than `max_age_s`
        (default: half the stats interval), so detectors polling together share one round."""
        limit = self.settings.stats_interval_s / 2 if max_age_s is None else max_age_s
        async with self._lock:
            if self._last_round is not None and time.monotonic() - self._last_round < limit:
                return
            refs = await self.directory.find()
            readings = await anyio.to_thread.run_sync(self._read_cgroups, [r.id for r in refs])
            at = self.clock.now()
            missed: list[ContainerRef] = []
            for ref in refs:
                if (reading := readings.get(ref.id)) is not None:
                    self._record_cgroup(ref, reading, at)
                    self._cgroup_misses.pop(ref.id, None)
                else:
                    self._cgroup_misses[ref.id] = self._cgroup_misses.get(ref.id, 0) + 1
                    missed.append(ref)
            # where the files are visible, a container missing once is starting or stopping: it is
            # read next round rather than given a stream for a passing moment (a custom cgroup
            # parent misses every round and goes to the engine from its second round)
            rest = [r for r in missed if not readings or self._cgroup_misses[r.id] >= 2]
            await self._sample_from_engine(rest)
            self.last_round_sources = {"cgroup": len(readings), "engine": len(rest)}
            alive = {r.id for r in refs}
            for gone in set(self._history) - alive:
                self._history.pop(gone, None)
                self._refs.pop(gone, None)
                self._raw_cpu.pop(gone, None)
            for gone in set(self._cgroup_prev) - alive:
                self._cgroup_prev.pop(gone, None)
                self.cgroups.forget(gone)
            self._cgroup_misses = {cid: n for cid, n in self._cgroup_misses.items() if cid in alive}
            self._last_round = time.monotonic()

    def _read_cgroups(self, container_ids: list[str]) -> dict[str, CgroupSample]:
        found: dict[str, CgroupSample] = {}
        # page cache is only subtracted where memory is judged: containers with a limit, unless
        # unlimited ones are judged too (memory.stat is the costliest file of a round)
        detail = True if self.settings.memory_include_unlimited else None
        for cid in container_ids:
            if (reading := self.cgroups.read(cid, memory_detail=detail)) is not None:
                found[cid] = reading
        return found

    def _record_cgroup(self, ref: ContainerRef, reading: CgroupSample, at: datetime) -> None:
        host_memory = self.cgroups.host_memory
        used, _, _ = memory_without_cache(reading.memory_stats(host_memory))
        previous = self._cgroup_prev.get(ref.id)
        self._cgroup_prev[ref.id] = reading
        self._append(
            ref,
            StatsSample(
                at=at,
                cpu_percent=cgroup_cpu_percent(previous, reading) if previous is not None else None,
                online_cpus=online_cpus(),
                cpu_limit_cpus=reading.cpu_quota_cpus,
                memory_used_bytes=used,
                memory_limit_bytes=reading.memory_limit_bytes or host_memory,
                memory_limit_set=reading.memory_limit_bytes is not None,
                throttled_periods=reading.throttled_periods,
            ),
        )

    async def _sample_from_engine(self, refs: list[ContainerRef]) -> None:
        """Stats of containers whose cgroup files are not visible: streams, else one-shot calls."""
        streams = self.host.stats_streams() if (refs or self._streaming) else None
        if streams is not None and streams.supported:
            streams.follow([r.id for r in refs])  # also closes streams of containers now read directly
            self._streaming = bool(refs)
            await streams.wait_for_samples([r.id for r in refs])
            for ref in refs:
                if (raw := streams.latest(ref.id)) is not None:
                    await self._record_raw(ref, raw)
            return
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def one(ref: ContainerRef) -> None:
            async with limiter:
                try:
                    raw = await self.host.run(
                        lambda c: c.api.stats(ref.id, stream=False, one_shot=True),
                        what=f"stats of {ref.name}",
                    )
                except DockerOpsError:
                    return  # removed or stopped between list and sample: it is dropped next round
                await self._record_raw(ref, raw)

        async with anyio.create_task_group() as tg:
            for ref in refs:
                tg.start_soon(one, ref)

    async def _record_raw(self, ref: ContainerRef, raw: dict[str, Any]) -> None:
        """One sample from the engine's stats JSON (stream or one-shot)."""
        try:
            details = await self.directory.details(ref.id)
        except DockerOpsError:
            return
        memory_stats = raw.get("memory_stats") or {}
        cpu_stats = raw.get("cpu_stats") or {}
        if details is None or not memory_stats or not cpu_stats:
            return  # not running any more: the engine answers empty stats
        used, _, _ = memory_without_cache(memory_stats)
        previous = self._raw_cpu.get(ref.id)
        self._raw_cpu[ref.id] = cpu_stats
        cpu: float | None = None
        online = int(cpu_stats.get("online_cpus") or 0) or len(
            (cpu_stats.get("cpu_usage") or {}).get("percpu_usage") or []
        )
        if previous is not None:
            cpu, online = cpu_percent({"cpu_stats": cpu_stats, "precpu_stats": previous})
        limits = details.limits
        cpu_limit = limits.cpus
        if cpu_limit is None and limits.cpu_quota and limits.cpu_period:
            cpu_limit = limits.cpu_quota / limits.cpu_period
        throttling = cpu_stats.get("throttling_data") or {}
        self._append(
            ref,
            StatsSample(
                at=self.clock.now(),
                cpu_percent=cpu,
                online_cpus=online,
                cpu_limit_cpus=cpu_limit,
                memory_used_bytes=used,
                memory_limit_bytes=int(memory_stats.get("limit") or 0),
                memory_limit_set=bool(limits.memory_bytes),
                throttled_periods=throttling.get("throttled_periods"),
            ),
        )

    def _append(self, ref: ContainerRef, sample: StatsSample) -> None:
        history = self._history.setdefault(ref.id, deque())
        history.append(sample)
        horizon = sample.at - timedelta(seconds=self.settings.stats_history_s)
        while history and history[0].at < horizon:
            history.popleft()
        self._refs[ref.id] = ref

    def containers(self) -> list[tuple[ContainerRef, list[StatsSample]]]:
        """Every sampled container with its samples, oldest first."""
        return [(self._refs[cid], list(h)) for cid, h in self._history.items() if cid in self._refs and h]

    def history(self, container_id: str) -> list[StatsSample]:
        return list(self._history.get(container_id, ()))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LogActivity:
    """What the logs of one container say about its liveness (engine times)."""

    last_line_at: datetime | None
    norm_gap_s: float | None  # the usual gap; None until enough gaps were seen
    gaps_observed: int
    readable: bool = True
    reason: str | None = None
    last_lines: list[str] = field(default_factory=list)


@dataclass
class _ContainerLogState:
    started_at: datetime | None
    last_line_at: datetime | None = None
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    unreadable_until: float | None = None
    reason: str | None = None
    cursor: LogFileCursor | None = None  # where the json-file log was last read, when it is readable


class LogGapSampler:
    """Learns the usual gap between log lines per service and tracks each container's last line.

    Lines come from the engine's json-file log on disk when this process can read it (only bytes
    new since the last look are read; an unchanged file costs one stat), else from the engine's
    logs endpoint with `since` = the last line seen.
    """

    def __init__(self, host: DockerHost, settings: DetectorSettings, max_gaps: int = 512) -> None:
        self.host = host
        self.settings = settings
        self.max_gaps = max_gaps
        self._gaps: dict[str, deque[float]] = {}
        self._containers: dict[str, _ContainerLogState] = {}
        self._log_paths: dict[str, str | None] = {}

    async def log_path(self, container_id: str) -> str | None:
        """The container's json-file log when it is readable here (asked of the engine once per
        container: the path never changes), else None."""
        if container_id not in self._log_paths:
            try:
                path = await self.host.run(
                    lambda c: c.api.inspect_container(container_id).get("LogPath"),
                    what=f"inspect container {container_id[:12]}",
                )
            except DockerOpsError:
                return None
            self._log_paths[container_id] = await anyio.to_thread.run_sync(readable_log_path, path)
        return self._log_paths[container_id]

    def record_gaps(self, service_key: str, gaps: Sequence[float]) -> None:
        store = self._gaps.setdefault(service_key, deque(maxlen=self.max_gaps))
        store.extend(g for g in gaps if g >= 0)

    def norm(self, service_key: str) -> tuple[float | None, int]:
        """(usual gap in seconds or None, gaps observed) for a service."""
        gaps = self._gaps.get(service_key)
        if not gaps or len(gaps) < self.settings.hung_min_gaps:
            return None, len(gaps or ())
        return percentile(list(gaps), self.settings.hung_norm_percentile), len(gaps)

    async def observe(
        self,
        ref: ContainerRef,
        host_name: str,
        started_at: datetime | None,
        engine_now: datetime,
        *,
        log_path: str | None = None,
    ) -> LogActivity:
        """Read the lines new since the last look and update the norm of the container's service.
        `log_path`: the readable json-file log (see `log_path()`); None reads through the engine."""
        service_key = service_level(ref.target(host_name)).key()
        state = self._containers.get(ref.id)
        if state is None or state.started_at != started_at:
            state = _ContainerLogState(started_at=started_at)  # (re)started: no gap across restarts
            self._containers[ref.id] = state
        if state.unreadable_until is not None and time.monotonic() < state.unreadable_until:
            return LogActivity(None, None, 0, readable=False, reason=state.reason)
        since = state.last_line_at
        if since is None:
            since = engine_now - timedelta(seconds=self.settings.hung_learn_window_s)
            if started_at is not None and started_at > since:
                # the engine records StartedAt after the process already runs: its first lines
                # can carry an earlier time
                since = started_at - timedelta(seconds=1)
        lines: list[tuple[datetime | None, str]] | None = None
        clipped = False
        if log_path is not None:
            if state.cursor is None or state.cursor.path != log_path:
                state.cursor = LogFileCursor(log_path)
            read = await anyio.to_thread.run_sync(read_new_lines, state.cursor)
            if read is not None:
                lines = [(line.timestamp, line.text) for line in read[0] if line.timestamp >= since]
                clipped = read[1]
        if lines is None:
            try:
                logs = await container_logs(
                    self.host, ref.id, tail=self.settings.hung_log_tail, since=since, max_bytes=128 * 1024
                )
            except ContainerNotFound:
                self._containers.pop(ref.id, None)
                return LogActivity(None, None, 0, readable=False, reason="container removed")
            except DockerOpsError as exc:
                # e.g. a logging driver without read support: try again in ten minutes, not every poll
                state.unreadable_until = time.monotonic() + 600
                state.reason = str(exc)
                return LogActivity(None, None, 0, readable=False, reason=state.reason)
            lines = [(line.timestamp, line.text) for line in logs.lines]
            clipped = logs.truncated or len(logs.lines) >= self.settings.hung_log_tail
        stamps: list[datetime] = []
        for stamp, text in lines:
            if stamp is None or (state.last_line_at and stamp <= state.last_line_at):
                continue
            stamps.append(stamp)
            state.last_lines.append(text)
        if stamps:
            previous = None if clipped else state.last_line_at
            chain = ([previous] if previous else []) + stamps
            self.record_gaps(service_key, [(b - a).total_seconds() for a, b in itertools.pairwise(chain)])
            state.last_line_at = stamps[-1]
        norm, observed = self.norm(service_key)
        return LogActivity(state.last_line_at, norm, observed, last_lines=list(state.last_lines))

    def observed_ids(self) -> set[str]:
        """Ids of the containers whose logs this sampler has looked at (and still follows)."""
        return set(self._containers)

    def prune(self, alive_ids: set[str]) -> None:
        for gone in set(self._containers) - alive_ids:
            self._containers.pop(gone, None)
        for gone in set(self._log_paths) - alive_ids:
            self._log_paths.pop(gone, None)
